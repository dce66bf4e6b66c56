"""Sparse coding: closed forms (orthonormal dictionary, λ ≥ |Aᵀx|∞), KKT conditions, the ridge
basis step, the log penalty's stationarity (jax.grad) and the alternating training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax.unsupervised import sparse_coding as sc

RNG = np.random.default_rng(2)
D, M = 8, 12
A_NP = RNG.normal(size=(D, M))
A_NP /= np.linalg.norm(A_NP, axis=0)
A = jnp.asarray(A_NP, jnp.float32)
X = jnp.asarray(RNG.normal(size=(30, D)), jnp.float32)
LAM = 0.3
# One static max_iter for every call, so that each (method, penalty, shape) compiles once.
MAX_ITER = 20000


def test_soft_threshold_is_the_l1_prox():
    v = np.linspace(-2, 2, 9)
    grid = np.linspace(-3, 3, 60001)
    # argmin_z ½(z - v)² + τ|z| by brute force on a fine grid
    brute = grid[np.argmin(0.5 * (grid[None] - v[:, None]) ** 2 + 0.5 * np.abs(grid[None]), 1)]
    np.testing.assert_allclose(sc.soft_threshold(jnp.asarray(v), 0.5), brute, atol=1e-4)


def test_orthonormal_dictionary_has_closed_form_codes():
    Q = jnp.asarray(np.linalg.qr(RNG.normal(size=(D, D)))[0], jnp.float32)
    Z = sc.encode(X, Q, lam=LAM, tol=1e-6, max_iter=MAX_ITER)
    np.testing.assert_allclose(Z, sc.soft_threshold(X @ Q, LAM), atol=1e-5)


def test_large_lambda_gives_zero_codes():
    lam_max = float(jnp.max(jnp.abs(X @ A)))
    Z, n_iter = sc.encode(X, A, lam=lam_max * 1.01, return_n_iter=True, max_iter=MAX_ITER)
    assert float(jnp.max(jnp.abs(Z))) == 0.0
    assert int(n_iter) <= 10  # certified optimal at the first check


@pytest.mark.parametrize("method", ["fista", "ista"])
def test_solution_satisfies_kkt(method):
    Z = np.asarray(sc.encode(X, A, lam=LAM, method=method, tol=1e-6, max_iter=MAX_ITER), np.float64)
    c = (np.asarray(X, np.float64) - Z @ A_NP.T) @ A_NP  # = -gradient of the smooth part
    on = np.abs(Z) > 0
    np.testing.assert_allclose(c[on], LAM * np.sign(Z[on]), atol=2e-3)
    assert np.all(np.abs(c[~on]) <= LAM + 2e-3)


def test_fista_needs_fewer_steps_than_ista_for_the_same_objective():
    Zf, nf = sc.encode(X, A, lam=0.05, tol=1e-5, return_n_iter=True, max_iter=MAX_ITER)
    Zi, ni = sc.encode(
        X, A, lam=0.05, method="ista", tol=1e-5, return_n_iter=True, max_iter=MAX_ITER
    )
    f = lambda Z: float(jnp.sum(sc.objective(X, A, Z, lam=0.05)))
    assert abs(f(Zf) - f(Zi)) <= 1e-4 * f(Zi)
    assert int(nf) < int(ni)


def test_warm_start_from_the_solution_stops_at_once():
    Z = sc.encode(X, A, lam=LAM, tol=1e-5, max_iter=MAX_ITER)
    _, n_iter = sc.encode(X, A, lam=LAM, tol=1e-5, init=Z, return_n_iter=True, max_iter=MAX_ITER)
    assert int(n_iter) <= 10


def test_log_penalty_reaches_a_stationary_point():
    Z = sc.encode(X, A, lam=LAM, penalty="log", tol=1e-6, max_iter=MAX_ITER)
    grad = jax.grad(lambda Z: jnp.sum(sc.objective(X, A, Z, lam=LAM, penalty="log")))(Z)
    assert float(jnp.max(jnp.abs(grad))) < 1e-3


def test_ridge_basis_step_matches_normal_equations():
    Z = sc.encode(X, A, lam=LAM, max_iter=MAX_ITER)
    reg = 0.2
    A_new = np.asarray(sc.update_dictionary(X, Z, reg=reg), np.float64)
    Zn, Xn = np.asarray(Z, np.float64), np.asarray(X, np.float64)
    expected = np.linalg.solve(Zn.T @ Zn + reg / 2 * np.eye(M), Zn.T @ Xn).T
    np.testing.assert_allclose(A_new, expected, rtol=1e-4, atol=1e-4)


def test_unit_norm_basis_step_stays_in_the_ball_and_lowers_the_objective():
    Z = sc.encode(X, A, lam=LAM, max_iter=MAX_ITER)
    reg = 0.2
    loss = lambda B: float(jnp.sum((X - Z @ B.T) ** 2) + 0.5 * reg * jnp.sum(B**2))
    A_new = sc.update_dictionary(X, Z, reg=reg, unit_norm=True, atoms=A)
    assert float(jnp.max(jnp.linalg.norm(A_new, axis=0))) <= 1.0 + 1e-6
    assert loss(A_new) <= loss(A)


def test_learn_decreases_the_joint_objective():
    result = sc.learn(jax.random.key(0), X, M, lam=0.1, n_iter=6, encode_iter=300)
    assert result.atoms.shape == (D, M) and result.codes.shape == (30, M)
    history = np.asarray(result.history)
    assert np.all(np.diff(history) <= 1e-5 * history[0])
    assert float(jnp.max(jnp.linalg.norm(result.atoms, axis=0))) <= 1.0 + 1e-6


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"A must be a \(n_features, n_atoms\) matrix"):
        sc.encode(X, A[:5], lam=LAM)
    with pytest.raises(ValueError, match="lam must be a finite number >= 0"):
        sc.encode(X, A, lam=-1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        sc.encode(X, A, lam=LAM, method="omp")
    with pytest.raises(ValueError, match="penalty must be one of"):
        sc.encode(X, A, lam=LAM, penalty="l0")
    with pytest.raises(ValueError, match="init must have shape"):
        sc.encode(X, A, lam=LAM, init=jnp.zeros((3, M)))
    bad = np.array(X)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X must be finite"):
        sc.encode(bad, A, lam=LAM)
    with pytest.raises(ValueError, match="reg must be a finite number > 0"):
        sc.update_dictionary(X, jnp.zeros((30, M)), reg=0.0)
    with pytest.raises(ValueError, match="n_atoms=40 is larger than the number of samples"):
        sc.learn(jax.random.key(0), X, 40, lam=0.1)
