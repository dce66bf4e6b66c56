"""The unsupervised verify checks, benchmark cases and tour section are registered."""

from nndl_jax.benchmarks import cases

from nndl_jax import verify
from nndl_jax.experiments import experiments


def test_verify_checks_cover_every_module():
    names = {c.name for c in verify.checks("unsupervised.*")}
    for module in ("pca", "linear_coding", "sparse_coding", "kmeans", "gmm", "kde", "histogram"):
        assert any(n.startswith(f"unsupervised.{module}.") for n in names), module
    for dataset in ("digits", "iris", "wine"):
        assert f"unsupervised.pca.components.{dataset}" in names


def test_benchmark_cases():
    names = {c.name for c in cases(["unsupervised"])}
    assert names == {"pca", "kmeans", "gmm_em", "gmm_fit", "sparse_coding", "kde"}


def test_tour_section_order():
    (exp,) = experiments("unsupervised")
    assert exp.order == 60


def test_pca_benchmark_rows_name_each_solver():
    """Quick PCA case: both inputs against the default solver, float64 against the exact SVD."""
    from nndl_jax.benchmarks.unsupervised import pca_fit

    rows = pca_fit(quick=True)
    assert [(r["input"], r["peer"]) for r in rows] == [
        ("float64", "sklearn PCA (svd_solver=covariance_eigh)"),
        ("float32", "sklearn PCA (svd_solver=covariance_eigh)"),
        ("float64", "sklearn PCA (svd_solver=full)"),
    ]
    # the same variance captured as scikit-learn's, whichever solver it used
    for row in rows:
        assert abs(row["objective_rel_diff"]) < 1e-5, row
