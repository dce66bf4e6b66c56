"""``nndl-jax train mlp``: runs on every kind of data set, writes its files, resumes, bad input."""

import json

import pytest

from nndl_jax import cli as top_cli
from nndl_jax.train import cli
from nndl_jax.train.history import read_json

TINY = ["--hidden", "8", "--epochs", "2", "--batch-size", "16", "--no-progress"]


def test_a_binary_data_set(capsys):
    assert cli.main(["mlp", "--dataset", "breast_cancer", *TINY]) == 0
    out = capsys.readouterr().out
    for text in ("test accuracy", "error rate", "macro precision", "recall", "F1",
                 "test confusion matrix (rows: true class, columns: predicted)"):  # fmt: skip
        assert text in out
    assert "stopped: max_epochs" in out and "MLP 30-8-2" in out


def test_digits_with_out_json_and_resume(tmp_path, capsys):
    out_dir = tmp_path / "run"
    argv = ["train", "mlp", "--dataset", "digits", "--hidden", "16", "--batch-size", "64",
            "--augment", "--dropout", "0.1", "--l2", "1e-4", "--json",
            "--out", str(out_dir)]  # fmt: skip
    assert top_cli.main([*argv, "--epochs", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "MLP 64-16-10" and summary["epochs_run"] == 2
    test = summary["test"]
    assert 0.0 <= test["accuracy"] <= 1.0
    assert abs(test["error"] - (1 - test["accuracy"])) < 1e-12
    assert len(test["confusion"]) == 10 and sum(map(sum, test["confusion"])) == 270
    for name in ("history.json", "history.csv", "curves.png", "results.json"):
        assert (out_dir / name).is_file(), name
    assert len(read_json(out_dir / "history.json")) == 2
    assert (out_dir / "history.csv").read_text().count("\n") == 3
    steps = sorted(p.name for p in (out_dir / "checkpoints").iterdir() if p.name.isdigit())
    assert steps == ["1", "2"]
    assert json.loads((out_dir / "results.json").read_text())["config"]["scaling"] == "minmax"

    assert top_cli.main([*argv, "--epochs", "3"]) == 2  # the folder holds a run: no overwrite
    assert "pass resume=True" in capsys.readouterr().err
    assert top_cli.main([*argv, "--epochs", "3", "--resume"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs_run"] == 3
    assert [r["epoch"] for r in read_json(out_dir / "history.json")] == [1, 2, 3]


@pytest.mark.parametrize(
    "args, match",
    [
        (
            ["--dataset", "mnist"],
            "unknown data set 'mnist'; expected one of: breast_cancer, digits, iris, wine",
        ),
        (["--optimizer", "adamx"], "unknown optimizer 'adamx'; expected one of: adadelta"),
        (["--activation", "relux"], "unknown activation 'relux'; expected one of: "),
        (["--init", "glorot_fancy"], "unknown initializer 'glorot_fancy'; expected one of: "),
        (["--scaling", "robust"], "unknown scaling 'robust'; expected one of: auto, minmax"),
        (["--monitor", "acc"], "unknown monitor 'acc'"),
        (
            ["--batch-size", "200"],
            "batch_size must be at most the number of training samples, got batch_size=200 > 104",
        ),
        (["--batch-size", "0"], "batch_size must be a positive integer, got 0"),
        (["--epochs", "0"], "epochs must be a positive integer, got 0"),
        (["--patience", "-1"], "patience must be a positive integer, got -1"),
        (["--dropout", "1.0"], r"dropout must be in \[0, 1\), got 1.0"),
        (["--dropout", "-0.1"], r"dropout must be in \[0, 1\), got -0.1"),
        (["--lr", "0"], "learning_rate must be a finite number > 0, got 0.0"),
        (["--hidden", "0"], "hidden widths must be positive integers"),
        (["--augment"], "--augment needs an image data set"),
        (["--resume"], "--resume needs --out DIR"),
        (["--split-seed", "-1"], "--split-seed must be a non-negative integer, got -1"),
        (["--out", __file__], "--out must be a directory, but .* is a file"),
    ],
)
def test_bad_input_is_reported_with_status_2(args, match, capsys):
    import re

    argv = ["mlp", "--dataset", "iris", "--no-progress", *args]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(match, err), err


def test_help_and_usage_errors(capsys):
    assert cli.main(["mlp", "--help"]) == 0
    assert "--weight-decay" in capsys.readouterr().out
    assert cli.main(["mlp", "--epochs", "many"]) == 2
    assert cli.main([]) == 2
