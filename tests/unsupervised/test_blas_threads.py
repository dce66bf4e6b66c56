"""The estimators' LAPACK runs on one BLAS thread on the CPU, and every limit is lifted after.

threadpoolctl's ``threadpool_info`` reads each loaded BLAS library's thread count straight from
the library, so it observes the limit independently of the code that sets it.
"""

import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from nndl_jax.unsupervised import _blas_threads, gmm, pca, sparse_coding


def _blas_counts() -> dict[str, int]:
    return {
        lib["filepath"]: lib["num_threads"]
        for lib in threadpool_info()
        if lib["user_api"] == "blas"
    }


@pytest.fixture(autouse=True)
def two_blas_threads():
    """Start each test with every BLAS at two threads, so that a limit to one is visible."""
    _blas_threads._controller()  # loads SciPy's BLAS, the one JAX's LAPACK calls use
    with threadpool_limits(limits=2, user_api="blas"):
        assert set(_blas_counts().values()) == {2}
        yield


def _recording(seen: list):
    def fn(x):
        seen.append(_blas_counts())
        return x + 1

    return fn


def test_limits_every_blas_to_one_thread_during_the_call_and_restores_after():
    seen = []
    out = _blas_threads.call(_recording(seen), jnp.ones(3), size=64)
    np.testing.assert_array_equal(out, np.full(3, 2.0))
    assert len(seen) == 1 and set(seen[0].values()) == {1}
    assert set(_blas_counts().values()) == {2}


def test_waits_for_the_compiled_program_before_lifting_the_limit():
    """JAX dispatches asynchronously: the limit must last until the program has run."""

    @jax.jit
    def program(x):
        # Milliseconds of work: dispatched without waiting, the result would not be ready yet.
        return jax.lax.fori_loop(0, 300, lambda i, y: jnp.tanh(y @ x), x)

    x = jnp.eye(128) * 0.5
    jax.block_until_ready(program(x))  # compile outside the timing
    assert _blas_threads.call(program, x, size=8).is_ready()


def test_restores_the_limits_when_the_call_raises():
    def boom(x):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        _blas_threads.call(boom, jnp.ones(3), size=64)
    assert set(_blas_counts().values()) == {2}
    assert not _blas_threads._holder.locked()


def test_matrices_above_max_size_keep_all_threads():
    seen = []
    _blas_threads.call(_recording(seen), jnp.ones(3), size=_blas_threads.MAX_SIZE + 1)
    assert set(seen[0].values()) == {2}
    seen.clear()
    _blas_threads.call(_recording(seen), jnp.ones(3), size=_blas_threads.MAX_SIZE)
    assert set(seen[0].values()) == {1}


def test_tracers_pass_through_without_a_limit():
    seen = []
    # Under an outer jit the program runs after this Python call returns: no limit is set.
    out = jax.jit(lambda x: _blas_threads.call(_recording(seen), x, size=8))(jnp.ones(2))
    np.testing.assert_array_equal(out, np.full(2, 2.0))
    assert set(seen[0].values()) == {2}


def test_nested_calls_keep_the_limit_until_the_outer_one_returns():
    seen_inner, seen_after_inner = [], []

    def outer(x):
        y = _blas_threads.call(_recording(seen_inner), x, size=8)
        seen_after_inner.append(_blas_counts())
        return y

    _blas_threads.call(outer, jnp.ones(2), size=8)
    assert set(seen_inner[0].values()) == {1}
    assert set(seen_after_inner[0].values()) == {1}
    assert set(_blas_counts().values()) == {2}


def test_a_call_from_another_thread_runs_under_the_holders_limit_and_leaves_it_alone():
    """threadpoolctl lets only the thread that set an OpenBLAS limit lift it: the holder does."""
    seen = {}

    def quick(x):
        seen["other"] = _blas_counts()
        return x

    def holder(x):
        other = threading.Thread(target=lambda: _blas_threads.call(quick, jnp.ones(2), size=8))
        other.start()
        other.join(10)
        seen["holder_after_other"] = _blas_counts()
        return x

    _blas_threads.call(holder, jnp.ones(2), size=8)
    assert set(seen["other"].values()) == {1}
    assert set(seen["holder_after_other"].values()) == {1}
    assert set(_blas_counts().values()) == {2}
    assert not _blas_threads._holder.locked()


def test_the_estimators_run_their_lapack_on_one_thread(monkeypatch):
    """Each public entry point whose program factors a matrix goes through ``call``."""
    sizes = []
    real_call = _blas_threads.call

    def spy(fn, *args, size, **kwargs):
        sizes.append((fn.__name__, size))
        return real_call(fn, *args, size=size, **kwargs)

    monkeypatch.setattr(_blas_threads, "call", spy)
    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.normal(size=(40, 5)), jnp.float32)
    pca.fit(X, 2)
    pca.fit(X, 2, method="svd")
    model = gmm.fit(jax.random.key(0), X, 2, max_iter=3)
    gmm.score_samples(model, X)
    gmm.predict_proba(model, X)
    A = jnp.asarray(rng.normal(size=(5, 7)), jnp.float32)
    Z = sparse_coding.encode(X, A, lam=0.1, max_iter=5)
    sparse_coding.update_dictionary(X, Z, reg=0.1)
    sparse_coding.learn(jax.random.key(1), X, 7, lam=0.1, n_iter=1, encode_iter=3)
    sparse_coding.learn(jax.random.key(1), X, 7, lam=0.1, n_iter=1, encode_iter=3, unit_norm=False)
    assert sizes == [
        ("_fit", 5),  # eigh of the 5 × 5 covariance
        ("_fit", 40),  # SVD of the 40 × 5 data
        ("_em", 5),
        ("_score_samples", 5),
        ("_predict_proba", 5),
        ("_encode", 5),  # eigenvalues of the smaller Gram matrix of A
        ("_ridge_atoms", 7),  # the 7 × 7 system
        ("_learn", 5),
        ("_learn", 7),
    ]
