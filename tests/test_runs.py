"""A run folder holds one committed epoch whatever happens: kill -9 between any two writes, Ctrl-C, a full disk,
a second run, divergence, tampering. Resuming gives exactly the uninterrupted run, or a one-line refusal."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

import netspec
from netspec.errors import NetspecError
from netspec.runs import Run, folder_name

pytestmark = pytest.mark.slow  # `make test-fast` leaves these out (docs/testing.md)

Cli = Callable[..., tuple[int, str, str]]
ROOT = Path(__file__).resolve().parents[1]
TINY = "netspec: 1\ninput: {size: 8}\nstem: {preset: cifar, width: 4}\nstages: [{depth: 1, width: 4, stride: 1}]\n"
TINY += "head: {classes: 2}\n"
SETTINGS: dict[str, Any] = {"data": "fake", "fake_images": 16, "batch_size": 8, "workers": 0}
OPTIONS = ["--data", "fake", "--fake-images", "16", "--batch-size", "8", "--workers", "0"]
TIMING = ("images_per_s", "seconds")


def _same_run(folder: Path, whole: Path) -> None:
    """`folder` holds what the uninterrupted run `whole` holds: the same epochs, metrics and weights, no leftovers."""
    assert Run(folder).read_manifest().epoch == Run(whole).read_manifest().epoch
    rows, expected = (
        [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in (f / "metrics.jsonl").open()]
        for f in (folder, whole)
    )
    assert rows == expected
    for name in ("last.safetensors", "best.safetensors"):
        ours, theirs = load_file(folder / name), load_file(whole / name)
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours), name
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in whole.iterdir())


def test_kill_9_between_any_two_writes_then_resume_equals_the_uninterrupted_run(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    harness = [
        sys.executable,
        str(ROOT / "tests" / "kill_harness.py"),
        str(tmp_path),
        "tiny.yaml",
        json.dumps(SETTINGS),
    ]
    done = subprocess.run(harness, capture_output=True, text=True, check=False, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    # Epoch 0 (the spec and settings) commits in 5 writes: 2 staged, the manifest, 2 put in place; then each epoch
    # in 15: 7 staged, the manifest, 7 put in place.
    assert report.pop("whole") == "done" and report.pop("points") == 35
    refused = []
    for k, (killed, resumed) in report.items():
        assert (killed, resumed) == ("killed", "done"), (k, done.stderr)
        folder = tmp_path / f"killed-{k}"
        _same_run(folder, tmp_path / "whole")
        note = folder.with_suffix(".refused")
        if note.exists():
            assert note.read_text() == f"{folder}: no checkpoint to resume from (no epoch completed)"
            refused.append(int(k))
    # Killed before epoch 1's manifest is renamed into place (the 13th write) there is nothing to resume, and a new
    # run starts there (over epoch 0's files, which the manifest lists, or none); from the 14th on, resuming finishes
    # or discards the epoch under way.
    assert refused == list(range(1, 14))


def _tiny(tmp_path: Path) -> str:
    (tmp_path / "tiny.yaml").write_text(TINY)
    return str(tmp_path / "tiny.yaml")


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, k: int, fault: BaseException) -> None:
    """Raise `fault` at the k-th os.replace: what a Ctrl-C (KeyboardInterrupt) or a failing disk does there."""
    real, calls = os.replace, [0]

    def replace(src: Any, dst: Any) -> None:
        calls[0] += 1
        if calls[0] == k:
            raise fault
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize(("k", "kept"), [(23, 1), (29, 2)], ids=["staged", "committed"])
def test_ctrl_c_says_which_epoch_the_folder_holds(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, k: int, kept: int
) -> None:
    spec, out = _tiny(tmp_path), tmp_path / "run"
    # Epoch 0 (spec and settings) is writes 1-5; epoch 1's 6-20; epoch 2's 21-27 stage, 28 commits, 29-35 install.
    _interrupt_at(monkeypatch, k, KeyboardInterrupt())
    code, _, err = cli("train", spec, *OPTIONS, "--epochs", "2", "--out", str(out))
    assert (code, err) == (130, f"\ninterrupted; {out} holds epoch {kept}: continue with --resume\n")
    monkeypatch.undo()
    # The commit under way is finished (committed) or undone (staged) before the run ends: the folder is that
    # epoch's, file for file, with nothing staged left over, without waiting for a --resume to settle it.
    manifest = Run(out).read_manifest()
    assert manifest.epoch == kept and not list(out.glob("*.next")) and not list(out.glob(".*.tmp"))
    assert all(hashlib.sha256((out / name).read_bytes()).hexdigest() == sha for name, sha in manifest.files.items())
    assert len((out / "metrics.jsonl").read_text().splitlines()) == kept
    netspec.train(spec, resume=True, epochs=3, out=str(out), **SETTINGS)
    netspec.train(spec, epochs=3, out=str(tmp_path / "whole"), **SETTINGS)
    _same_run(out, tmp_path / "whole")


class _CollectedDuringCtrlC:
    """An object whose finalizer is running when Ctrl-C arrives: Python prints "Exception ignored" and drops the
    KeyboardInterrupt raised there (seen in a full run: one Ctrl-C, and a run of 100,000 epochs went on)."""

    def __del__(self) -> None:
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)  # type: ignore[operator]


def test_a_ctrl_c_that_lands_in_a_finalizer_still_ends_the_run(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netspec import curves as module

    spec, out, real = _tiny(tmp_path), tmp_path / "run", module.learning_curves

    def curves(history: list[dict[str, float]]) -> bytes:
        if len(history) == 1:
            _CollectedDuringCtrlC()  # dropped at once: its __del__ runs here, and its exception is lost
        return real(history)

    monkeypatch.setattr(module, "learning_curves", curves)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (not a background job)
    try:
        code, _, err = cli("train", spec, *OPTIONS, "--epochs", "3", "--out", str(out))
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the command's handler is put back
    finally:
        signal.signal(signal.SIGINT, before)
    assert code == 130, err  # not 0: the run did not go on to train epochs 2 and 3
    assert err == f"\ninterrupted; {out} holds epoch 1: continue with --resume\n"  # no "Exception ignored" trace
    assert Run(out).read_manifest().epoch == 1 and len(Run(out).read_metrics(1)) == 1


def test_a_full_disk_mid_epoch_ends_in_one_line_and_the_last_good_epoch(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, out = _tiny(tmp_path), tmp_path / "run"
    real, calls = os.fsync, [0]

    def fsync(fd: int) -> None:
        calls[0] += 1
        if calls[0] == 15:  # epoch 0's 2 records and manifest, epoch 1's 8 writes, then epoch 2's fourth staged file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    code, _, err = cli("train", spec, *OPTIONS, "--epochs", "2", "--out", str(out))
    assert (code, err) == (1, f"{out}/best.state.pt.next: cannot write it: No space left on device\n")
    monkeypatch.undo()
    assert Run(out).read_manifest().epoch == 1
    netspec.train(spec, resume=True, epochs=3, out=str(out), **SETTINGS)
    netspec.train(spec, epochs=3, out=str(tmp_path / "whole"), **SETTINGS)
    _same_run(out, tmp_path / "whole")


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_writes(tmp_path: Path, cli: Cli) -> None:
    spec, out = _tiny(tmp_path), tmp_path / "run"
    argv = [sys.executable, "-m", "netspec", "train", spec, *OPTIONS, "--epochs", "100000", "--out", str(out)]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=_terminal)
    try:
        _wait_for_lock(out)
        code, _, err = cli("train", spec, *OPTIONS, "--epochs", "2", "--out", str(out))
        message = "another netspec train is writing this run folder; wait for it to end, or choose another folder"
        assert (code, err) == (1, f"{out}: {message} with --out\n")
        first.send_signal(2)  # Ctrl-C
        _, stderr = first.communicate(timeout=60)
    finally:
        first.kill()
    epoch = Run(out).read_manifest().epoch
    assert (first.returncode, stderr) == (130, f"\ninterrupted; {out} holds epoch {epoch}: continue with --resume\n")
    assert len(Run(out).read_metrics(epoch)) == epoch


def _wait_for_lock(folder: Path) -> None:
    """Until another process holds the folder's lock (and has committed an epoch)."""
    for _ in range(600):
        if (folder / "manifest.json").exists() and Run(folder).read_manifest().epoch >= 1:
            fd = os.open(folder, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BlockingIOError:
                return
            finally:
                os.close(fd)
        time.sleep(0.1)
    raise AssertionError("the first run never took the lock")


def test_divergence_stops_the_run_and_keeps_the_last_good_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netspec import trainer

    spec, out = _tiny(tmp_path), tmp_path / "run"
    real = trainer.train_epoch

    def diverging(model: torch.nn.Module, *args: Any) -> tuple[float, float, float]:
        result = real(model, *args)
        if args[-1].startswith("2/"):  # epoch 2 blows up: its weights become NaN, as a too-high lr makes them
            next(model.parameters()).data.fill_(math.nan)
        return result

    monkeypatch.setattr(trainer, "train_epoch", diverging)
    with pytest.raises(NetspecError) as caught:
        netspec.train(spec, epochs=3, out=str(out), **SETTINGS)
    assert str(caught.value) == (
        f"epoch 2: the test loss is nan: the run diverged (try a lower --lr); {out} holds epoch 1, the last good one"
    )
    assert Run(out).read_manifest().epoch == 1
    for which in ("last", "best"):
        assert all(bool(torch.isfinite(t).all()) for t in load_file(out / f"{which}.safetensors").values())


def test_a_learning_rate_that_diverges_ends_in_one_line_and_exit_1(tmp_path: Path, cli: Cli) -> None:
    spec, out = _tiny(tmp_path), tmp_path / "run"
    code, _, err = cli("train", spec, *OPTIONS, "--lr", "1e6", "--epochs", "3", "--out", str(out))
    assert code == 1 and len(err.splitlines()) == 1, err
    found = re.fullmatch(
        r"epoch (\d): the (training|test) loss is (nan|inf): the run diverged \(try a lower --lr\); (.*)\n", err
    )
    assert found, err
    epoch = int(found[1])
    assert found[4] == (f"{out} holds epoch {epoch - 1}, the last good one" if epoch > 1 else "no epoch was saved")
    assert Run(out).read_manifest().epoch == epoch - 1
    if epoch > 1:  # metrics are strict JSON: no NaN or Infinity
        json.loads((out / "metrics.jsonl").read_text().splitlines()[0], parse_constant=_no_constants)


def _no_constants(name: str) -> None:
    raise AssertionError(f"{name} in metrics.jsonl")


@pytest.mark.parametrize("option", ["--lr", "--weight-decay", "--momentum", "--gamma"])
@pytest.mark.parametrize("value", ["inf", "nan"])
def test_non_finite_settings_are_refused(cli: Cli, option: str, value: str) -> None:
    code, _, err = cli("train", "cifar/resnet20", option, value)
    field = option[2:].replace("-", "_")
    assert (code, err) == (1, f"{option}: {field}: must be a finite number, got the number {value}\n")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "last.state.pt").write_bytes((f / "last.state.pt").read_bytes()[:100]), "last.state.pt: does"),
        (lambda f: (f / "last.safetensors").write_bytes(b"x"), "last.safetensors: does"),
        (lambda f: (f / "settings.yaml").write_text("lr: 1\n"), "settings.yaml: does"),
        (lambda f: (f / "spec.yaml").write_text("netspec: 1\n"), "spec.yaml: does"),
        (lambda f: (f / "metrics.jsonl").unlink(), "metrics.jsonl: does"),
        (lambda f: (f / "manifest.json").write_text("{"), "manifest.json: not a run manifest"),
        (
            lambda f: (f / "manifest.json").write_text('{"epoch": NaN, "files": {}}'),
            "manifest.json: not a run manifest",
        ),
        (lambda f: (f / "manifest.json").write_text('{"epoch": 1, "files": {"../x": ""}}'), "manifest.json: not a run"),
    ],
    ids=[
        "truncated-state",
        "damaged-weights",
        "edited-settings",
        "edited-spec",
        "missing-metrics",
        "torn-manifest",
        "nan-epoch",
        "foreign-name",
    ],
)
def test_a_damaged_run_folder_is_refused_in_one_line(
    tmp_path: Path, cli: Cli, damage: Callable[[Path], Any], message: str
) -> None:
    spec, out = _tiny(tmp_path), tmp_path / "run"
    assert cli("train", spec, *OPTIONS, "--epochs", "1", "--out", str(out))[0] == 0
    damage(out)
    code, _, err = cli("train", spec, *OPTIONS, "--epochs", "2", "--out", str(out), "--resume")
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"{out}/{message}"), err


def test_a_forged_manifest_over_a_foreign_state_file_is_refused_in_one_line(tmp_path: Path, cli: Cli) -> None:
    spec, out = _tiny(tmp_path), tmp_path / "run"
    assert cli("train", spec, *OPTIONS, "--epochs", "1", "--out", str(out))[0] == 0
    torch.save({"optimizer": {"state": 3}}, out / "last.state.pt")
    manifest = json.loads((out / "manifest.json").read_text())
    import hashlib

    manifest["files"]["last.state.pt"] = hashlib.sha256((out / "last.state.pt").read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = cli("train", spec, *OPTIONS, "--epochs", "2", "--out", str(out), "--resume")
    assert (code, err.count("\n")) == (1, 1), err
    assert err.startswith(f"{out}/last.state.pt: not this run's optimizer state ("), err


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("../../victim", "_.._victim"),
        ("/etc/passwd", "_etc_passwd"),
        ("..", "run"),
        ("a/b", "a_b"),
        ("résumé net", "r_sum__net"),
    ],
)
def test_run_folders_stay_in_runs_whatever_the_name(name: str, folder: str) -> None:
    assert folder_name(name) == folder


def test_a_spec_named_to_escape_trains_inside_runs(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    (work / "evil.yaml").write_text(TINY + "name: ../../victim\n")
    monkeypatch.chdir(work)
    code, out, err = cli("train", "evil.yaml", *OPTIONS, "--epochs", "1")
    assert (code, err) == (0, ""), err
    assert out.endswith("results in runs/_.._victim: metrics.jsonl, curves.png, last and best checkpoints\n")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_dir()) == [
        "a",
        "a/b",
        "a/b/runs",
        "a/b/runs/_.._victim",
    ]


def _launch(tmp_path: Path, *options: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "netspec", "train", _tiny(tmp_path), *OPTIONS, "--nproc", "2", *options]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=_terminal
    )


def _terminal() -> None:
    """Start a command as a terminal's foreground job is: Ctrl-C not ignored (the suite may run as a background
    job, whose children inherit an ignored SIGINT, and netspec keeps a signal it was started to ignore ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_of_several_processes_ends_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    launched = _launch(tmp_path, "--epochs", "100000", "--out", str(out))
    try:
        _wait_for_lock(out)
        os.killpg(launched.pid, 2)  # Ctrl-C on a terminal interrupts the whole foreground process group
        _, err = launched.communicate(timeout=120)
    finally:
        launched.kill()
    epoch = Run(out).read_manifest().epoch
    assert (launched.returncode, err) == (130, f"\ninterrupted; {out} holds epoch {epoch}: continue with --resume\n")


def test_a_failing_worker_ends_in_its_one_line(tmp_path: Path) -> None:
    launched = _launch(tmp_path, "--lr", "1e6", "--epochs", "2", "--out", str(tmp_path / "run"))
    _, err = launched.communicate(timeout=120)
    assert launched.returncode == 1 and err.count("\n") == 1 and "the run diverged (try a lower --lr)" in err, err


def test_a_special_file_in_the_run_folder_stops_the_run_before_training(tmp_path: Path, cli: Cli) -> None:
    spec, out = _tiny(tmp_path), tmp_path / "run"
    out.mkdir()
    os.mkfifo(out / "metrics.jsonl")
    code, stdout, err = cli("train", spec, *OPTIONS, "--epochs", "1", "--out", str(out))
    message = "refusing to replace a named pipe (FIFO); outputs replace regular files only"
    assert (code, stdout, err) == (1, "", f"{out / 'metrics.jsonl'}: {message}\n")
    assert [p.name for p in out.iterdir()] == ["metrics.jsonl"]


def test_a_folder_from_before_manifests_is_named_as_such(tmp_path: Path, cli: Cli) -> None:
    spec, out = _tiny(tmp_path), tmp_path / "run"
    assert cli("train", spec, *OPTIONS, "--epochs", "1", "--out", str(out))[0] == 0
    (out / "manifest.json").unlink()  # what the previous netspec left: checkpoints, and no manifest
    code, _, err = cli("train", spec, *OPTIONS, "--epochs", "2", "--out", str(out), "--resume")
    assert (code, err) == (
        1,
        f"{out}: written by a netspec without run manifests, so which epoch its files hold cannot be checked; start "
        "a new run with another --out\n",
    )
