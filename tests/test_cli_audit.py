"""The command with inputs the README does not show: seeds JAX cannot take, flags named in
messages, unwritable outputs, a resume with other settings, Ctrl-C, a report folder reused."""

import base64
import json
import re
import signal
import subprocess
import sys
import time

import pytest
from nndl_jax.benchmarks import _harness

from nndl_jax import cli
from nndl_jax.experiments import _registry as tour_registry
from nndl_jax.experiments._registry import Section
from nndl_jax.train import cli as train_cli

IRIS = ["mlp", "--dataset", "iris", "--hidden", "4", "--no-progress"]


@pytest.mark.parametrize("seed", [2**32, 2**63, 2**70])
def test_train_seed_beyond_32_bits_is_a_usage_error(seed, capsys):
    # 2**32 gave the run of seed 0 (jax.random.key wraps), 2**63 raised OverflowError
    assert train_cli.main([*IRIS, "--seed", str(seed)]) == 2
    message = f"--seed must be below 2**32 (JAX keys take 32-bit seeds), got {seed}"
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--lr", "0"], "--lr"),
        (["--batch-size", "0"], "--batch-size"),
        (["--weight-decay", "1"], "--weight-decay"),
        (["--optimizer", "lbfgs"], "--optimizer"),
        (["--init", "foo"], "--init"),
        (["--dataset", "digits", "--augment", "--noise", "-1"], "--noise"),
    ],
)
def test_train_messages_name_the_flag(args, flag, capsys):
    assert train_cli.main([*IRIS, *args]) == 2
    err = capsys.readouterr().err
    assert f"nndl-jax train: error: argument {flag}: " in err, err


def test_train_refuses_augmentation_flags_without_augment(capsys):
    assert train_cli.main([*IRIS, "--noise", "0.1", "--max-shift", "2"]) == 2
    assert "--max-shift, --noise apply only with --augment" in capsys.readouterr().err


def test_train_checkpoints_path_taken_by_a_file(tmp_path, capsys):
    (tmp_path / "checkpoints").write_text("")
    assert train_cli.main([*IRIS, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "a file named 'checkpoints'" in err, err


def test_train_resume_refuses_other_settings(tmp_path, capsys):
    run = [*IRIS, "--out", str(tmp_path / "run"), "--json"]
    assert train_cli.main([*run, "--epochs", "1"]) == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["optimizer"] == "adam" and saved["hidden"] == [4]
    capsys.readouterr()
    # adam and nadam keep the same state: the checkpoint alone would have taken it
    assert train_cli.main([*run, "--epochs", "2", "--resume", "--optimizer", "nadam"]) == 2
    err = capsys.readouterr().err
    assert "--optimizer 'adam' there, 'nadam' here" in err, err
    assert train_cli.main([*run, "--epochs", "2", "--resume", "--seed", "5"]) == 2
    assert "--seed 0 there, 5 here" in capsys.readouterr().err
    assert train_cli.main([*run, "--epochs", "2"]) == 2  # no --resume: the flag is named
    assert "(on the command line: --resume)" in capsys.readouterr().err
    assert train_cli.main([*run, "--epochs", "2", "--resume", "--patience", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs_run"] == 2


def test_confusion_matrix_keeps_whole_class_names():
    scores = {"accuracy": 1.0, "error": 0.0, "precision": 1.0, "recall": 1.0, "f1": 1.0,
              "loss": 0.1, "confusion": [[9, 0, 0], [0, 11, 0], [0, 0, 7]]}  # fmt: skip
    summary = {"dataset": "wine", "model": "MLP 13-4-3", "stopped_reason": "max_epochs",
               "message": "", "epochs_run": 1, "train_seconds": 0.1, "best_epoch": 1,
               "class_names": ["class_0", "class_1", "class_2"], "test": scores}  # fmt: skip
    lines = train_cli._report(summary).splitlines()
    assert lines[-4].split() == ["class_0", "class_1", "class_2"]  # were "cl cl cl"
    assert [line.split()[0] for line in lines[-3:]] == ["class_0", "class_1", "class_2"]


def test_train_ctrl_c_then_resume_matches_an_uninterrupted_run(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [*IRIS, "--patience", "100000", "--seed", "3"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "nndl_jax.cli", "train", *argv, "--epochs", "100000",
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        steps = lambda: [int(p.name) for p in (out / "checkpoints").glob("*") if p.name.isdigit()]  # noqa: E731
        while not ((out / "checkpoints").is_dir() and max(steps(), default=0) >= 2):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume continues" in err, err
    done = max(steps())
    more = ["--epochs", str(done + 2), "--json"]
    assert train_cli.main([*argv, *more, "--out", str(out), "--resume"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert train_cli.main([*argv, *more]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert resumed["epochs_run"] == whole["epochs_run"] == done + 2
    for split in ("val", "test"):
        assert resumed[split] == whole[split]


def test_ctrl_c_exits_130_without_a_traceback(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_info", interrupted)
    assert cli.main(["info"]) == 130
    assert "nndl-jax info: interrupted" in capsys.readouterr().err


@pytest.fixture
def fake_tour(monkeypatch):
    """Two experiments, each writing one figure into the report folder."""
    tour_registry.load_all()

    def drawing(name):
        def fn(ctx):
            path = ctx.out_dir / f"{name}.png"
            path.write_bytes(b"\x89PNG\r\n\x1a\n" + name.encode())
            return Section(name, figures=[path])

        return tour_registry.Experiment(f"zz_{name}", name, 1, fn)

    experiments = {e.name: e for e in (drawing("first"), drawing("second"))}
    monkeypatch.setattr(tour_registry, "_EXPERIMENTS", experiments)
    monkeypatch.setattr(tour_registry, "load_all", lambda: None)


def test_tour_seed_beyond_32_bits_is_a_usage_error(fake_tour, tmp_path, capsys):
    out = tmp_path / "r"
    assert cli.main(["tour", "--only", "zz_first", "--seed", str(2**32), "--out", str(out)]) == 2
    assert "--seed must be below 2**32 (JAX keys take 32-bit seeds)" in capsys.readouterr().err
    assert not out.exists()


def test_tour_second_run_replaces_stale_figures(fake_tour, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "mine.png").write_bytes(b"not the tour's")
    assert cli.main(["tour", "--only", "zz_first", "--out", str(out)]) == 0
    assert (out / "first.png").is_file()
    assert cli.main(["tour", "--only", "zz_second", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        ".nndl-jax-tour.json", "index.html", "mine.png", "results.json", "second.png"
    ]  # fmt: skip
    page = (out / "index.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert [base64.b64decode(i) for i in images] == [(out / "second.png").read_bytes()]
    assert not re.findall(r'(?:src|href)="(?!data:|#)', page)  # nothing outside the page
    assert json.loads((out / "results.json").read_text())["second"]["figures"] == ["second.png"]


def test_tour_leaves_a_folder_it_did_not_write_alone(fake_tour, tmp_path, capsys):
    # a results.json of the user's listing mine.png was taken for a report of the tour's: the
    # tour deleted mine.png and replaced index.html and results.json
    out = tmp_path / "r"
    out.mkdir()
    files = {
        "mine.png": "mine",
        "index.html": "<html>my page</html>",
        "results.json": json.dumps({"x": {"figures": ["mine.png"]}}),
    }
    for name, text in files.items():
        (out / name).write_text(text)
    assert cli.main(["tour", "--only", "zz_first", "--out", str(out)]) == 2
    assert "holds index.html and results.json that the tour did not write" in (
        capsys.readouterr().err
    )
    assert {p.name: p.read_text() for p in out.iterdir()} == files


def test_tour_reuses_a_report_folder_of_an_older_version(fake_tour, tmp_path):
    """No manifest yet: a page with the tour's title marks the folder as the tour's."""
    out = tmp_path / "r"
    out.mkdir()
    (out / "old.png").write_bytes(b"stale")
    (out / "index.html").write_text("<html><head><title>nndl-jax tour</title></head></html>")
    (out / "results.json").write_text(json.dumps({"Old": {"figures": ["old.png"]}}))
    assert cli.main(["tour", "--only", "zz_first", "--out", str(out)]) == 0
    assert not (out / "old.png").exists() and (out / "first.png").is_file()


def test_tour_out_that_cannot_be_created_exits_2(fake_tour, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert cli.main(["tour", "--only", "zz_first", "--out", str(tmp_path / "file" / "r")]) == 2
    assert "--out: cannot write the report to" in capsys.readouterr().err


def test_outputs_that_cannot_be_written_are_refused_before_the_work(monkeypatch, tmp_path, capsys):
    link = tmp_path / "out.json"
    link.symlink_to(tmp_path / "missing" / "out.json")  # its folder exists, the file cannot be
    ran = []
    _harness.load_all()
    case = _harness.Case("zz", "probe", lambda quick: ran.append(1) or [])
    monkeypatch.setattr(_harness, "_CASES", {("zz", "probe"): case})
    assert cli.main(["bench", "zz", "--out", str(link)]) == 2
    assert cli.main(["verify", "--only", "layers.dense.forward", "--json", str(link)]) == 2
    captured = capsys.readouterr()
    assert ran == [] and "layers.dense" not in captured.out
    assert "--out: cannot write" in captured.err and "--json: cannot write" in captured.err
    target = tmp_path / "t.json"
    link.unlink()
    link.symlink_to(target)  # writable through the link: the probe leaves both as they were
    assert cli._writable_file("--out", str(link)) and link.is_symlink() and not target.exists()


def test_every_option_has_a_help_text():
    parsers = [cli.build_parser(), train_cli.build_parser()]
    seen = []
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if action.choices and hasattr(action, "_name_parser_map"):
                parsers.extend(action._name_parser_map.values())
            elif action.option_strings and action.dest != "help":
                seen.append(action.option_strings[-1])
                assert action.help, f"{parser.prog} {action.option_strings} has no help"
    assert "--seed" in seen and "--max-rotation" in seen


def test_verify_list_with_json_writes_the_list(tmp_path, capsys):
    out = tmp_path / "checks.json"
    assert cli.main(["verify", "--list", "--only", "losses.binary*", "--json", str(out)]) == 0
    listed = json.loads(out.read_text())["checks"]
    printed = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [c["name"] for c in listed] == printed
    assert "losses.binary_cross_entropy.confident" in printed


def test_train_out_empty_string_is_a_usage_error(tmp_path, monkeypatch, capsys):
    # "" read as "no --out": the run trained, wrote nothing and exited 0
    monkeypatch.chdir(tmp_path)
    assert train_cli.main([*IRIS, "--epochs", "1", "--out", ""]) == 2
    assert "--out must name a directory, got an empty string" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_train_a_dropped_ctrl_c_still_exits_130(monkeypatch, capsys):
    """Python drops a KeyboardInterrupt raised inside a GC callback; the request is recorded."""

    def run_with_dropped_interrupt(args, interrupt):
        interrupt.requested = True  # what the handler records before raising
        return 0, {}

    monkeypatch.setattr(train_cli, "_run", run_with_dropped_interrupt)
    assert train_cli.main([*IRIS, "--epochs", "1"]) == 130
    assert "nndl-jax train: interrupted" in capsys.readouterr().err


@pytest.mark.parametrize("out", [False, True])
def test_train_recorded_ctrl_c_stops_after_the_epoch(out, tmp_path):
    stop = train_cli._Interrupt(defer=out)
    args = train_cli.build_parser().parse_args([*IRIS, "--out", str(tmp_path)])
    after = train_cli._after_epoch(args, tmp_path if out else None, stop)
    after({"epoch": 1})  # no request: the epoch ends normally
    stop.requested = True
    with pytest.raises(KeyboardInterrupt):
        after({"epoch": 2})
    assert (tmp_path / "config.json").is_file() == out


def test_train_writes_its_json_files_atomically(tmp_path, monkeypatch):
    from nndl_jax.train import history

    written = []
    real = history.atomic_write_text
    monkeypatch.setattr(
        history,
        "atomic_write_text",
        lambda path, text: (written.append(path.name), real(path, text)),
    )
    assert train_cli.main([*IRIS, "--epochs", "1", "--out", str(tmp_path)]) == 0
    assert {"config.json", "results.json", "history.json"} <= set(written)


def test_atomic_write_text_keeps_the_old_file_when_a_write_fails(tmp_path, monkeypatch):
    from pathlib import Path

    from nndl_jax.train import history

    target = tmp_path / "config.json"
    target.write_text('{"old": true}')
    real_write = Path.write_text

    def half_then_fail(self, text, *a, **k):
        real_write(self, text[: len(text) // 2], *a, **k)
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        history.atomic_write_text(target, '{"new": "a longer text than before"}')
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"old": True}
