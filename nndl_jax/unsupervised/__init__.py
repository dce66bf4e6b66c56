"""Unsupervised learning: feature learning, density estimation and clustering.

Public modules (``from nndl_jax.unsupervised import pca``):

* :mod:`~nndl_jax.unsupervised.pca` — principal component analysis (eigh or SVD), whitening.
* :mod:`~nndl_jax.unsupervised.linear_coding` — encode z = Aᵀx, decode x = Az, error curves.
* :mod:`~nndl_jax.unsupervised.sparse_coding` — ISTA/FISTA codes, dictionary learning.
* :mod:`~nndl_jax.unsupervised.kmeans` — k-means++ and Lloyd, vmapped restarts.
* :mod:`~nndl_jax.unsupervised.gmm` — Gaussian mixtures by EM (full or diagonal).
* :mod:`~nndl_jax.unsupervised.kde` — Gaussian kernel density estimation.
* :mod:`~nndl_jax.unsupervised.histogram` — histogram density on a regular grid.

Every estimator is a pure function returning a pytree (a NamedTuple or registered dataclass),
so models pass through ``jit`` and ``vmap``; sizes that set shapes (k, n_components, bins) are
static. Bad input (too many components or clusters, NaN/Inf data) raises a ValueError naming
the values before anything is traced.
"""

from nndl_jax.unsupervised import (
    gmm as gmm,
    histogram as histogram,
    kde as kde,
    kmeans as kmeans,
    linear_coding as linear_coding,
    pca as pca,
    sparse_coding as sparse_coding,
)
