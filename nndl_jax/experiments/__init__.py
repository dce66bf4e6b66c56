"""The book's experiments, run by ``nndl-jax tour`` and by the scripts in ``examples/``.

Each module here registers experiments with :func:`experiment`. An experiment takes a
:class:`Context` (where to write, quick or full, the seed) and returns a :class:`Section` of the
report: text, figures (PNG files it saved with ``ctx.savefig``), tables and the numbers it
measured. ``nndl-jax tour`` runs the registered experiments in order and writes
``reports/tour/index.html`` (self-contained: figures are embedded) and ``results.json``.
"""

from nndl_jax.experiments._registry import (
    Context as Context,
    Experiment as Experiment,
    Section as Section,
    Table as Table,
    experiment as experiment,
    experiments as experiments,
    format_table as format_table,
    load_all as load_all,
    run_tour as run_tour,
)
