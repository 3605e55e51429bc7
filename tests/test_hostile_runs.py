"""Round 3, run folders: a run never replaces a file netspec did not write, and what a run folder holds is read as
strictly as a spec. Each case is one line on stderr, exit code 1, the folder as it was."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

Cli = Callable[..., tuple[int, str, str]]
TINY = "netspec: 1\ninput: {size: 8}\nstem: {preset: cifar, width: 4}\nstages: [{depth: 1, width: 4, stride: 1}]\n"
TINY += "head: {classes: 2}\n"
OPTIONS = ["--data", "fake", "--fake-images", "16", "--batch-size", "8", "--workers", "0"]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("name", ["spec.yaml", "settings.yaml", "metrics.jsonl", "curves.png", "best.safetensors"])
def test_a_run_never_replaces_a_file_netspec_did_not_write(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    work = tmp_path / "work"
    work.mkdir()
    (work / name).write_bytes(b"the user's own file\n")
    monkeypatch.chdir(work)
    code, out, err = cli("train", str(tmp_path / "tiny.yaml"), *OPTIONS, "--epochs", "1", "--out", ".")
    message = "not a file of a netspec run (this folder's manifest does not list it); refusing to replace it: move it"
    assert (code, out, err) == (1, "", f"{name}: {message}, or choose another folder with --out\n")
    assert _files(work) == {name: b"the user's own file\n"}


def test_a_fifo_as_the_run_folder_is_named(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    os.mkfifo(tmp_path / "pipe")
    code, out, err = cli(
        "train", str(tmp_path / "tiny.yaml"), *OPTIONS, "--epochs", "1", "--out", str(tmp_path / "pipe")
    )
    message = "a named pipe (FIFO), not a folder; --out names the folder of the run's files"
    assert (code, out, err) == (1, "", f"{tmp_path / 'pipe'}: {message}\n")


def test_a_run_started_and_killed_before_its_first_epoch_is_netspecs_to_replace(tmp_path: Path, cli: Cli) -> None:
    """Epoch 0 commits the spec and settings: a new run may replace them, as they are the manifest's."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    out = tmp_path / "run"
    from netspec.loader import load_spec
    from netspec.runs import Run
    from netspec.settings import load_settings

    run = Run(out)
    with run.locked():
        run.check(load_spec(tmp_path / "tiny.yaml"), load_settings(None), False)
        run.start(load_spec(tmp_path / "tiny.yaml"), load_settings(None))
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "settings.yaml", "spec.yaml"]
    assert json.loads((out / "manifest.json").read_text())["epoch"] == 0
    code, _, err = cli("train", str(tmp_path / "tiny.yaml"), *OPTIONS, "--epochs", "1", "--out", str(out))
    assert (code, err) == (0, "")


def _trained(tmp_path: Path, cli: Cli) -> Path:
    (tmp_path / "tiny.yaml").write_text(TINY)
    out = tmp_path / "run"
    assert cli("train", str(tmp_path / "tiny.yaml"), *OPTIONS, "--epochs", "1", "--out", str(out))[0] == 0
    return out


def _forge(folder: Path, name: str, data: bytes) -> None:
    """Replace a run's file and its manifest entry: a file that passes the manifest, yet is not what netspec wrote."""
    (folder / name).write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _manifest(folder: Path, **changes: object) -> None:
    manifest = json.loads((folder / "manifest.json").read_text()) | changes
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _state(folder: Path, change: Callable[[dict[str, object]], None]) -> None:
    state = torch.load(folder / "last.state.pt", weights_only=True)
    change(state)
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    _forge(folder, "last.state.pt", buffer.getvalue())


def _set_lr(state: dict[str, object]) -> None:
    state["optimizer"]["param_groups"][0]["lr"] = "0.1"  # type: ignore[index]


def _metrics_without(key: str) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        row = json.loads((folder / "metrics.jsonl").read_text())
        del row[key]
        _forge(folder, "metrics.jsonl", (json.dumps(row) + "\n").encode())

    return damage


def _metrics_with(key: str, value: object) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        row = json.loads((folder / "metrics.jsonl").read_text()) | {key: value}
        _forge(folder, "metrics.jsonl", (json.dumps(row) + "\n").encode())

    return damage


METRICS = "epoch, lr, train_loss, train_acc, test_loss, test_acc, images_per_s, seconds"
DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "another-format": (
        lambda f: _manifest(f, format=2),
        "manifest.json: a run manifest of format the integer 2, written by another version of netspec (this one reads "
        "format 1); the run cannot be resumed here",
    ),
    "lists-nothing": (
        lambda f: _manifest(f, files={}),
        "manifest.json: not a run manifest (epoch 1 lists 0 files, not the 8 a run writes); the run cannot be resumed "
        "or replaced",
    ),
    "negative-epoch": (
        lambda f: _manifest(f, epoch=-1),
        "manifest.json: not a run manifest (the epoch is the integer -1); the run cannot be resumed or replaced",
    ),
    "settings-a-list": (
        lambda f: _forge(f, "settings.yaml", b"- lr\n- 0.1\n"),
        "settings.yaml:1:1: training settings must be a mapping of fields (epochs, lr, ...), got a list; not the "
        "settings netspec wrote, so the run cannot be resumed",
    ),
    "settings-unknown-field": (
        lambda f: _forge(f, "settings.yaml", b"learning_rate: 0.1\n" + (f / "settings.yaml").read_bytes()),
        "settings.yaml:1:1: learning_rate: unknown field 'learning_rate'; did you mean 'lr'?; not the settings "
        "netspec wrote, so the run cannot be resumed",
    ),
    "metrics-without-test-acc": (
        _metrics_without("test_acc"),
        f"metrics.jsonl:1: not the metrics netspec wrote (expected an object of {METRICS})",
    ),
    "metrics-string-value": (
        _metrics_with("train_loss", "0.5"),
        "metrics.jsonl:1: not the metrics netspec wrote (train_loss is the string '0.5')",
    ),
    "metrics-boolean-value": (
        _metrics_with("test_acc", True),
        "metrics.jsonl:1: not the metrics netspec wrote (test_acc is true)",
    ),
    "state-lr-a-string": (
        lambda f: _state(f, _set_lr),
        "last.state.pt: not this run's optimizer state (ValueError: param_groups.0.lr is the string '0.1', where "
        "this run's settings give 0.02)",
    ),
    "state-other-momentum": (
        lambda f: _state(f, lambda s: s["optimizer"]["param_groups"][0].update(momentum=0.5)),  # type: ignore[index]
        "last.state.pt: not this run's optimizer state (ValueError: param_groups.0.momentum is the number 0.5, where "
        "this run's settings give 0.9)",
    ),
    "state-scheduler-step": (
        lambda f: _state(f, lambda s: s["scheduler"].update(last_epoch=7)),  # type: ignore[attr-defined]
        "last.state.pt: not this run's optimizer state (ValueError: scheduler.last_epoch is the integer 7, where this "
        "run's settings give 1)",
    ),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_run_folder_metadata_is_read_as_strictly_as_a_spec(tmp_path: Path, cli: Cli, damage: str) -> None:
    out = _trained(tmp_path, cli)
    change, message = DAMAGES[damage]
    change(out)
    before = _files(out)
    code, stdout, err = cli(
        "train", str(tmp_path / "tiny.yaml"), *OPTIONS, "--epochs", "2", "--out", str(out), "--resume"
    )
    assert (code, stdout, err) == (1, "", f"{out}/{message}\n")
    assert _files(out) == before


@pytest.mark.parametrize("damage", ["another-format", "lists-nothing"])
def test_a_new_run_does_not_replace_a_folder_it_cannot_read(tmp_path: Path, cli: Cli, damage: str) -> None:
    out = _trained(tmp_path, cli)
    DAMAGES[damage][0](out)
    before = _files(out)
    code, _, err = cli("train", str(tmp_path / "tiny.yaml"), *OPTIONS, "--epochs", "1", "--out", str(out))
    assert (code, err) == (1, f"{out}/{DAMAGES[damage][1]}\n")
    assert _files(out) == before
