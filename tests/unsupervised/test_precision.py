"""Every matrix product of the estimators is traced at full float32 precision.

On a GPU (TF32) or TPU (bfloat16 passes) the platform's default precision would cost the
estimators their agreement with scikit-learn; a CPU ignores the setting, so what is tested here
is the traced program: each ``dot_general`` must carry ``HIGHEST`` for both operands, even when
the caller asks for the fastest precision.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax.unsupervised import gmm, kmeans, linear_coding, pca, sparse_coding

X = jnp.asarray(np.random.default_rng(0).normal(size=(12, 3)), jnp.float32)
A = jnp.asarray(np.random.default_rng(1).normal(size=(3, 4)), jnp.float32)


def _gmm_model():
    return gmm.initialize(jax.random.key(0), X, 2)


PROGRAMS = {
    "pca.fit": lambda: pca._fit.lower(X, 2, "eigh", False),
    "pca.transform": lambda: jax.jit(pca.transform).lower(pca.fit(X, 2), X),
    # kde.score_samples has no matrix product: it takes direct differences (see kde's docstring).
    "kmeans.fit": lambda: kmeans._fit.lower(
        jax.random.key(0), X, 1e-4, k=2, n_init=2, max_iter=3, init="k-means++"
    ),
    "kmeans.predict": lambda: kmeans._predict.lower(X[:2], X),
    "gmm.em": lambda: gmm._em.lower(_gmm_model(), X, 1e-6, 1e-3, max_iter=3),
    "gmm.score_samples": lambda: gmm._score_samples.lower(_gmm_model(), X),
    "sparse_coding.encode": lambda: sparse_coding._encode.lower(
        X, A, jnp.zeros((12, 4)), 0.1, 1e-4, "fista", "l1", 5, True
    ),
    "sparse_coding.update_dictionary": lambda: sparse_coding._ridge_atoms.lower(
        X, jnp.ones((12, 4)), 0.1
    ),
    "linear_coding.error_curve": lambda: jax.jit(linear_coding.error_curve).lower(
        X, jnp.eye(3), jnp.zeros(3)
    ),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_matmuls_are_full_precision(name):
    with jax.default_matmul_precision("bfloat16"):  # the caller's setting must not leak in
        text = PROGRAMS[name]().as_text()
    dots = [line for line in text.splitlines() if "dot_general" in line]
    assert dots, f"{name}: expected at least one matrix product in the program"
    loose = [line.strip() for line in dots if line.count("HIGHEST") != 2]
    assert not loose, f"{name}: matmuls below full precision:\n" + "\n".join(loose)
