"""The examples in the docstrings run and print what they say."""

import doctest
import importlib
import pkgutil

import pytest

import nndl_jax


def _modules():
    names = ["nndl_jax"]
    for info in pkgutil.walk_packages(nndl_jax.__path__, "nndl_jax."):
        if ".benchmarks" not in info.name:  # the suites import their peers (flax, sklearn) lazily
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
