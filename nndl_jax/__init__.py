"""nndl-jax: a pure, verified JAX implementation of *Neural Networks and Deep Learning*.

Sub-packages: ``nn`` (kernels and layers), ``losses``, ``metrics``, ``data``, ``optim``,
``train``, ``unsupervised``; ``verify`` checks every component against an
independent reference, ``experiments`` holds the book's experiments run by ``nndl-jax tour``.
"""

__version__ = "0.1.0"
