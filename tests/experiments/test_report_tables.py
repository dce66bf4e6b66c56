"""Plain-text tables shared by the CLI and the example scripts."""

from nndl_jax.experiments import Table, format_table


def test_format_table_pads_columns_and_rules_the_header():
    text = format_table(["name", "n"], [["relu", 1], ["gelu_tanh", 22]])
    assert text.splitlines() == [
        "name       n ",
        "---------  --",
        "relu       1 ",
        "gelu_tanh  22",
    ]


def test_table_as_text_starts_with_its_caption():
    table = Table("Accuracy", ["method", "acc"], [["none", 0.9]])
    assert table.as_text().splitlines()[0] == "Accuracy"
    assert (
        table.as_text().splitlines()[1:]
        == format_table(["method", "acc"], [["none", 0.9]]).splitlines()
    )
