r"""Sparse coding: codes that reconstruct x from few atoms, and the dictionary that allows it.

Given a dictionary :math:`A` of shape (d, M), atoms as columns (often M > d, overcomplete),
the code of a sample x minimises

.. math::  f(z) = \tfrac12 \|x - A z\|^2 + \lambda \rho(z),

with a sparsity measure ρ: ``"l1"``, :math:`\rho(z) = \|z\|_1`, or the smooth ``"log"``,
:math:`\rho(z) = \sum_m \log(1 + z_m^2)`. The notes write the objective without the ½ and with
η in place of λ: their :math:`\|x - Az\|^2 + \eta\rho(z)` is ours with :math:`\eta = 2\lambda`.

**Inference** (``encode``) is proximal gradient descent on all rows of X at once. The smooth part
:math:`g(z) = \frac12\|x - Az\|^2` has gradient :math:`A^\top(Az - x)` (for a batch of rows,
:math:`Z A^\top A - X A`) with Lipschitz constant :math:`L = \|A\|_2^2`. ISTA steps

.. math::  z \leftarrow \operatorname{prox}_{\lambda/L}\big(z - \nabla g(z)/L\big), \qquad
           \operatorname{prox}_{\tau}(v) = \operatorname{sign}(v)\max(|v| - \tau, 0)

(soft thresholding) and converges at rate O(1/t); FISTA (Beck & Teboulle, 2009) takes the same
step from an extrapolated point :math:`y = z_t + \frac{s_{t-1} - 1}{s_t}(z_t - z_{t-1})` and
converges at O(1/t²). We add O'Donoghue & Candès' (2015) adaptive restart, per row: when the step
points against the momentum, that row's momentum is reset; this keeps FISTA's speed without its
oscillations once the support is found. The smooth ``"log"`` penalty is handled as part of g
(its second derivative is bounded by 2λ, so L grows by 2λ) and the prox is the identity; it is
not convex, so the result is a stationary point near the start.

Iteration stops on a certificate, checked every few steps: for ``"l1"`` when the duality gap
:math:`\sum_n P(z^{(n)}) - D(\theta^{(n)})` (θ the residual scaled to be dual feasible) is at
most ``tol`` times the objective, which guarantees that the objective is within a relative
``tol`` of the optimum; for ``"log"`` (or λ = 0) when one proximal gradient step would move no
entry by more than ``tol`` times max(1, largest |z|). In float32 the gap cannot be resolved much
below 1e-5 relative, so smaller ``tol`` values run to ``max_iter``.

**Learning the dictionary** (``learn``) alternates, as the notes do, between the codes with A
fixed and the basis with the codes fixed,

.. math::  \min_A \sum_n \|x^{(n)} - A z^{(n)}\|^2 + \frac{\mu}{2}\|A\|_F^2
           \;\Rightarrow\; A = X^\top Z \,(Z^\top Z + \tfrac{\mu}{2} I)^{-1}

(setting the gradient :math:`-2(X - ZA^\top)^\top Z + \mu A` to zero). Each half-step lowers
the joint objective :math:`\sum_n [\frac12\|x^{(n)} - Az^{(n)}\|^2 + \lambda\rho(z^{(n)})] +
\frac{\mu}{4}\|A\|_F^2` (the notes' objective halved), so its history decreases.

With ``unit_norm=True`` the atoms are instead constrained to the unit ball, :math:`\|a_j\| \le
1`, which removes the trade of large atoms for small codes; the basis step is then one sweep of
block-coordinate descent over the atoms (Mairal et al., 2010): each atom in turn is set to its
exact ridge minimiser with the others fixed and projected onto the ball. Unlike normalising the
ridge solution afterwards, this never raises the objective.

Relation to scikit-learn: ``sklearn.decomposition.sparse_encode(X, D, algorithm="lasso_cd",
alpha=α)`` takes atoms as the *rows* of D (our ``A.T``) and divides α by n_features before
calling ``Lasso``, whose loss is :math:`\frac{1}{2 d}\|x - D^\top z\|^2 + \frac{\alpha}{d}
\|z\|_1`, i.e. our objective divided by d: the same minimiser with ``alpha = lam``.

References:
  Beck, A. and Teboulle, M. (2009). A fast iterative shrinkage-thresholding algorithm for linear
  inverse problems. SIAM J. Imaging Sciences 2(1).
  Mairal, J., Bach, F., Ponce, J. and Sapiro, G. (2010). Online learning for matrix
  factorization and sparse coding. JMLR 11.
  O'Donoghue, B. and Candès, E. (2015). Adaptive restart for accelerated gradient schemes.
  Foundations of Computational Mathematics 15(3).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from nndl_jax._validate import check_non_negative, check_positive
from nndl_jax.unsupervised import _blas_threads
from nndl_jax.unsupervised._checks import (
    as_float_array,
    check_choice,
    check_count,
    check_data,
    check_finite,
    check_key,
    check_positive_int,
)
from nndl_jax.unsupervised._precision import full_precision

__all__ = [
    "Dictionary",
    "objective",
    "encode",
    "soft_threshold",
    "update_dictionary",
    "learn",
]

METHODS = ("fista", "ista")
PENALTIES = ("l1", "log")
# Steps between convergence checks: a check costs about one step.
_CHECK_EVERY = 10


class Dictionary(NamedTuple):
    """Result of :func:`learn`.

    Attributes:
      atoms: ``(d, M)`` the dictionary A, atoms as columns.
      codes: ``(N, M)`` the codes of the training rows under the final atoms.
      history: ``(n_iter,)`` the joint objective per sample, :math:`\\frac1N\\big(\\sum_n
        f(z^{(n)}) + \\frac{\\mu}{4}\\|A\\|_F^2\\big)`, after each round (codes, then basis).
    """

    atoms: jax.Array
    codes: jax.Array
    history: jax.Array


def soft_threshold(v: jax.Array, tau) -> jax.Array:
    r"""The prox of :math:`\tau\|\cdot\|_1`: :math:`\operatorname{sign}(v)\max(|v| - \tau, 0)`."""
    return jnp.sign(v) * jnp.maximum(jnp.abs(v) - tau, 0.0)


def _penalty(Z: jax.Array, penalty: str) -> jax.Array:
    if penalty == "l1":
        return jnp.sum(jnp.abs(Z), axis=-1)
    return jnp.sum(jnp.log1p(Z**2), axis=-1)


def objective(X, A, Z, *, lam, penalty: str = "l1") -> jax.Array:
    r"""Per-row objective :math:`\frac12\|x - Az\|^2 + \lambda\rho(z)`.

    Args:
      X: ``(N, d)`` data. A: ``(d, M)`` dictionary. Z: ``(N, M)`` codes.
      lam: λ ≥ 0. penalty: ``"l1"`` or ``"log"``.

    Returns:
      ``(N,)`` objective values (sum or average them as needed).
    """
    X, A = _check_pair(X, A)
    Z = as_float_array("Z", Z)
    if Z.shape != (X.shape[0], A.shape[1]):
        raise ValueError(
            f"Z must have shape (n_samples, n_atoms)={(X.shape[0], A.shape[1])}, got "
            f"{tuple(Z.shape)}"
        )
    check_finite("Z", Z)
    lam = check_non_negative("lam", lam)
    check_choice("penalty", penalty, PENALTIES)
    return _objective(X, A, Z, lam, penalty)


@full_precision
def _objective(X, A, Z, lam, penalty):
    return 0.5 * jnp.sum((X - Z @ A.T) ** 2, axis=-1) + lam * _penalty(Z, penalty)


def encode(
    X,
    A,
    *,
    lam,
    method: str = "fista",
    penalty: str = "l1",
    max_iter: int = 1000,
    tol: float = 1e-4,
    restart: bool = True,
    init=None,
    return_n_iter: bool = False,
):
    r"""Sparse codes of the rows of X: :math:`\arg\min_z \frac12\|x - Az\|^2 + \lambda\rho(z)`.

    All rows are solved together (one matrix product per step) inside one compiled loop.

    Args:
      X: ``(N, d)`` data.
      A: ``(d, M)`` dictionary, atoms as columns.
      lam: λ ≥ 0, the weight of the sparsity penalty (scikit-learn's ``alpha``).
      method: ``"fista"`` (accelerated) or ``"ista"``.
      penalty: ``"l1"`` or the smooth, non-convex ``"log"``.
      max_iter: the most steps.
      tol: for ``"l1"`` with λ > 0, the relative duality gap at which to stop (the objective is
        then within a relative ``tol`` of its minimum); otherwise the largest allowed move of one
        proximal gradient step, relative to max(1, largest |z|). See the module docstring.
      restart: FISTA's adaptive momentum restart (ignored by ISTA).
      init: ``(N, M)`` starting codes (warm start), zeros by default.
      return_n_iter: also return the number of steps taken.

    Returns:
      ``(N, M)`` codes, and the step count if ``return_n_iter``.

    Differentiation: forward mode (``jax.jvp``, ``jax.jacfwd``) works; reverse mode
    (``jax.grad``) does not, since the solver stops early inside a ``lax.while_loop``. For
    the gradient of the optimal value with respect to X, A or λ, differentiate
    :func:`objective` at ``jax.lax.stop_gradient(codes)``: at a minimiser the codes' own
    variation contributes nothing (the envelope theorem).
    """
    X, A = _check_pair(X, A)
    lam = check_non_negative("lam", lam)
    check_choice("method", method, METHODS)
    check_choice("penalty", penalty, PENALTIES)
    max_iter = check_positive_int("max_iter", max_iter)
    tol = check_non_negative("tol", tol)
    if not isinstance(restart, bool):
        raise TypeError(f"restart must be a bool, got {restart!r}")
    shape = (X.shape[0], A.shape[1])
    if init is None:
        init = jnp.zeros(shape, X.dtype)
    else:
        init = as_float_array("init", init)
        if init.shape != shape:
            raise ValueError(f"init must have shape {shape}, got {tuple(init.shape)}")
        check_finite("init", init)
    # LAPACK sees the smaller Gram matrix of A (its largest eigenvalue sets the step).
    Z, n_iter = _blas_threads.call(
        _encode,
        X,
        A,
        init.astype(X.dtype),
        lam,
        tol,
        method,
        penalty,
        max_iter,
        restart,
        size=min(A.shape),
    )
    return (Z, n_iter) if return_n_iter else Z


@partial(jax.jit, static_argnames=("method", "penalty", "max_iter", "restart"))
@full_precision
def _encode(X, A, Z0, lam, tol, method, penalty, max_iter, restart):
    d, m = A.shape
    # Pick the cheaper gradient: via the Gram matrix (N·M² per step) or through A twice (2·N·d·M).
    use_gram = m <= 2 * d
    gram = A.T @ A
    XA = X @ A
    lipschitz = _largest_eigenvalue(A)
    if penalty == "log":
        lipschitz = lipschitz + 2.0 * lam
    # Guard an all-zero dictionary: every step is then zero anyway.
    step = 1.0 / jnp.where(lipschitz > 0, lipschitz, 1.0)
    lam = jnp.asarray(lam, X.dtype)
    accelerate = method == "fista"

    def grad(Y):
        smooth = (Y @ gram if use_gram else (Y @ A.T) @ A) - XA
        if penalty == "log":
            smooth = smooth + lam * 2.0 * Y / (1.0 + Y**2)
        return smooth

    def prox(V):
        return soft_threshold(V, lam * step) if penalty == "l1" else V

    def one_step(_, state):
        Z, Y, s = state
        Z_new = prox(Y - step * grad(Y))
        if not accelerate:
            return Z_new, Z_new, s
        s_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * s**2))
        Y_new = Z_new + ((s - 1.0) / s_new)[:, None] * (Z_new - Z)
        if restart:
            # Restart a row when its proximal step opposes its momentum direction.
            against = jnp.sum((Y - Z_new) * (Z_new - Z), axis=1) > 0
            s_new = jnp.where(against, 1.0, s_new)
            Y_new = jnp.where(against[:, None], Z_new, Y_new)
        return Z_new, Y_new, s_new

    def converged(Z):
        residual = X - Z @ A.T
        correlation = residual @ A  # = -(gradient of the smooth part)
        if penalty == "log":
            correlation = correlation - lam * 2.0 * Z / (1.0 + Z**2)
        # Stationarity: how far one proximal gradient step would move.
        moved = jnp.max(jnp.abs(Z - prox(Z + step * correlation)))
        stationary = moved <= tol * jnp.maximum(1.0, jnp.max(jnp.abs(Z)))
        if penalty == "log":
            return stationary
        # Lasso duality gap: theta = t * residual, with t scaling it into the dual feasible set
        # {|A^T theta|_inf <= lam}, certifies P(z) - P(z*) <= P(z) - D(theta), where
        # D(theta) = theta.x - |theta|^2 / 2. Substituting x = r + Az (so r.x = |r|^2 + c.z)
        # gives P - D = (1 - t)^2 |r|^2 / 2 + (lam |z|_1 - t c.z): two small terms, instead of
        # the difference of two large ones, so the gap stays meaningful in float32.
        r2 = jnp.sum(residual**2, axis=1)
        l1 = jnp.sum(jnp.abs(Z), axis=1)
        c_max = jnp.max(jnp.abs(correlation), axis=1)
        t = jnp.where(c_max > lam, lam / jnp.where(c_max > 0, c_max, 1.0), 1.0)
        gap = jnp.sum(0.5 * (1.0 - t) ** 2 * r2 + lam * l1 - t * jnp.sum(correlation * Z, axis=1))
        primal = jnp.sum(0.5 * r2 + lam * l1)
        small_gap = gap <= tol * primal
        # Without a penalty (lam = 0) the scaled dual is 0 and the gap never closes.
        return jnp.where(lam > 0, small_gap, stationary)

    def block(carry):
        Z, Y, s, it, _ = carry
        steps = jnp.minimum(_CHECK_EVERY, max_iter - it)
        Z, Y, s = lax.fori_loop(0, steps, one_step, (Z, Y, s))
        return Z, Y, s, it + steps, converged(Z)

    def cond(carry):
        *_, it, done = carry
        return (it < max_iter) & ~done

    s0 = jnp.ones((X.shape[0],), X.dtype)
    carry = (Z0, Z0, s0, jnp.int32(0), converged(Z0))
    Z, _, _, n_iter, _ = lax.while_loop(cond, block, carry)
    return Z, n_iter


@full_precision
def _largest_eigenvalue(A: jax.Array) -> jax.Array:
    """:math:`\\|A\\|_2^2`, the largest eigenvalue of the smaller of AᵀA and AAᵀ."""
    d, m = A.shape
    small = A.T @ A if m <= d else A @ A.T
    return jnp.linalg.eigvalsh(small)[-1]


def update_dictionary(X, Z, *, reg, unit_norm: bool = False, atoms=None) -> jax.Array:
    r"""The basis step: :math:`A = X^\top Z (Z^\top Z + \frac{\mu}{2} I)^{-1}`.

    The closed-form minimiser of :math:`\sum_n \|x^{(n)} - Az^{(n)}\|^2 + \frac{\mu}{2}\|A\|_F^2`
    (the notes' λ is our ``reg`` μ). With ``unit_norm`` the same objective subject to
    :math:`\|a_j\| \le 1`, by one block-coordinate sweep from ``atoms`` (module docstring).

    Args:
      X: ``(N, d)`` data. Z: ``(N, M)`` codes.
      reg: μ > 0 (keeps the system solvable when an atom is unused). An unused atom (its
        column of Z all zero) is set to 0, the minimiser of its ridge term, in both modes; no
        NaN, but it then stays unused in :func:`learn` (replace it by hand if that matters).
      unit_norm: constrain the atoms to the unit ball.
      atoms: ``(d, M)`` current atoms, the start of the sweep (used with ``unit_norm`` only,
        checked whenever given; by default the ridge solution with its atoms normalised).

    Returns:
      ``(d, M)`` atoms as columns.
    """
    X = check_data("X", X)
    Z = as_float_array("Z", Z)
    if Z.ndim != 2 or Z.shape[0] != X.shape[0] or Z.shape[1] == 0:
        raise ValueError(
            f"Z must be (n_samples, n_atoms) with n_samples={X.shape[0]} (X's rows) and at "
            f"least one atom, got Z.shape={tuple(Z.shape)}"
        )
    check_finite("Z", Z)
    reg = check_positive("reg", reg)
    Z = Z.astype(X.dtype)
    m = Z.shape[1]  # LAPACK factors the M × M system
    if atoms is not None:  # checked whenever given, though only the sweep uses it
        atoms = as_float_array("atoms", atoms)
        want = (X.shape[1], m)
        if atoms.shape != want:
            raise ValueError(f"atoms must have shape (d, n_atoms)={want}, got {atoms.shape}")
        check_finite("atoms", atoms)
        atoms = atoms.astype(X.dtype)
    if not unit_norm:
        return _blas_threads.call(_ridge_atoms, X, Z, reg, size=m)
    if atoms is None:
        atoms = _normalise(_blas_threads.call(_ridge_atoms, X, Z, reg, size=m))
    return _unit_ball_atoms(X, Z, atoms, reg)


@jax.jit
@full_precision
def _ridge_atoms(X, Z, reg):
    m = Z.shape[1]
    system = Z.T @ Z + 0.5 * reg * jnp.eye(m, dtype=Z.dtype)
    # The system is symmetric positive definite: solve Aᵀ = system⁻¹ ZᵀX by Cholesky.
    factor = jax.scipy.linalg.cho_factor(system)
    return jax.scipy.linalg.cho_solve(factor, Z.T @ X).T


@jax.jit
@full_precision
def _unit_ball_atoms(X, Z, A, reg):
    # With C = ZᵀZ and B = XᵀZ, the objective's dependence on atom j alone is
    # (C_jj + μ/2)|a_j|² - 2 a_j·(B_j - Σ_{i≠j} a_i C_ij), minimised at u below; projecting
    # a minimiser of an isotropic quadratic onto the ball is its constrained minimiser.
    C = Z.T @ Z
    B = X.T @ Z

    def update(j, A):
        c_jj = C[j, j]
        u = (B[:, j] - A @ C[:, j] + c_jj * A[:, j]) / (c_jj + 0.5 * reg)
        return A.at[:, j].set(u / jnp.maximum(1.0, jnp.linalg.norm(u)))

    return lax.fori_loop(0, A.shape[1], update, A)


def _normalise(A):
    norms = jnp.linalg.norm(A, axis=0)
    return A / jnp.where(norms > 0, norms, 1.0)


def learn(
    key,
    X,
    n_atoms: int,
    *,
    lam,
    reg: float = 1e-3,
    n_iter: int = 20,
    unit_norm: bool = True,
    penalty: str = "l1",
    method: str = "fista",
    encode_iter: int = 200,
    tol: float = 1e-4,
    init=None,
) -> Dictionary:
    """Learn a dictionary by the notes' alternating minimisation.

    Each of ``n_iter`` rounds encodes all rows with the atoms fixed (:func:`encode`, warm-started
    from the previous codes) and then solves for the atoms with the codes fixed
    (:func:`update_dictionary`). The whole loop is one compiled program.

    Args:
      key: PRNG key choosing the initial atoms (``n_atoms`` distinct training rows, normalised).
      X: ``(N, d)`` data (centre it first if the mean is not part of what should be coded).
      n_atoms: M, the number of atoms (may exceed d).
      lam: the sparsity weight λ. reg: the ridge weight μ of the basis step.
      n_iter: alternations. unit_norm: constrain the atoms to the unit ball, ``‖a_j‖ ≤ 1``
        (one block-coordinate sweep per basis step, see :func:`update_dictionary`); False uses
        the unconstrained ridge solution.
      penalty, method, encode_iter, tol: passed to :func:`encode` (``encode_iter`` is its
        ``max_iter``).
      init: ``(d, M)`` initial atoms instead of the random rows.

    Returns:
      A :class:`Dictionary`.

    Like :func:`encode`, not reverse-mode differentiable (its loops stop early).
    """
    check_key(key)
    X = check_data("X", X)
    n, d = X.shape
    m = check_positive_int("n_atoms", n_atoms)
    lam = check_non_negative("lam", lam)
    reg = check_positive("reg", reg)
    n_iter = check_positive_int("n_iter", n_iter)
    encode_iter = check_positive_int("encode_iter", encode_iter)
    tol = check_non_negative("tol", tol)
    check_choice("penalty", penalty, PENALTIES)
    check_choice("method", method, METHODS)
    if init is None:
        check_count("n_atoms", m, n, "the number of samples to draw initial atoms from")
        rows = jax.random.choice(key, n, (m,), replace=False)
        init = X[rows].T
        norms = jnp.linalg.norm(init, axis=0)
        init = init / jnp.where(norms > 0, norms, 1.0)
    else:
        init = as_float_array("init", init)
        if init.shape != (d, m):
            raise ValueError(f"init must have shape (d, n_atoms)={(d, m)}, got {init.shape}")
        check_finite("init", init)
    # LAPACK sees the smaller Gram matrix of the atoms, and the M × M ridge system.
    size = min(d, m) if unit_norm else m
    return _blas_threads.call(
        _learn,
        X,
        init.astype(X.dtype),
        lam,
        reg,
        tol,
        size=size,
        n_iter=n_iter,
        unit_norm=bool(unit_norm),
        penalty=penalty,
        method=method,
        encode_iter=encode_iter,
    )


@partial(jax.jit, static_argnames=("n_iter", "unit_norm", "penalty", "method", "encode_iter"))
def _learn(X, A0, lam, reg, tol, *, n_iter, unit_norm, penalty, method, encode_iter):
    def joint_objective(A, Z):
        return jnp.mean(_objective(X, A, Z, lam, penalty)) + 0.25 * reg * jnp.sum(A**2) / X.shape[0]

    def round_(carry, _):
        A, Z = carry
        Z, _ = _encode(X, A, Z, lam, tol, method, penalty, encode_iter, True)
        A = _unit_ball_atoms(X, Z, A, reg) if unit_norm else _ridge_atoms(X, Z, reg)
        return (A, Z), joint_objective(A, Z)

    Z0 = jnp.zeros((X.shape[0], A0.shape[1]), X.dtype)
    (A, Z), history = lax.scan(round_, (A0, Z0), None, length=n_iter)
    # Codes consistent with the final atoms (warm-started from the last round's).
    Z, _ = _encode(X, A, Z, lam, tol, method, penalty, encode_iter, True)
    return Dictionary(A, Z, history)


def _check_pair(X, A):
    X = check_data("X", X)
    A = as_float_array("A", A)
    if A.ndim != 2 or A.shape[0] != X.shape[1] or A.shape[1] == 0:
        raise ValueError(
            f"A must be a (n_features, n_atoms) matrix with n_features={X.shape[1]} (X's "
            f"columns) and at least one atom, got A.shape={tuple(A.shape)}"
        )
    check_finite("A", A)
    return X, A.astype(X.dtype)
