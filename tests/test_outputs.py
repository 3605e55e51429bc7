"""Outputs never destroy inputs: the one writer refuses to replace what the command reads or anything that is not a
regular file, keeps the mode of the file it replaces, and names the target when a write fails (faults injected)."""

from __future__ import annotations

import errno
import os
import resource
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from netspec.errors import NetspecError
from netspec.files import Writer

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[..., Path]
CHILD = "netspec: 1\nextends: base.yaml\nname: child\n"
BASE = "netspec: 1\n# the user's comment\nextends: cifar/resnet20\nhead: {classes: 4}\n"


def test_export_refuses_to_replace_its_spec(write: Write, cli: Cli) -> None:
    write(BASE, "base.pt")  # a spec may have any name: what counts is that the command reads it
    code, out, err = cli("export", "base.pt", "--format", "torchscript", "-o", "base.pt")
    assert (code, out, err) == (1, "", "base.pt: refusing to replace a file this command reads\n")
    assert Path("base.pt").read_text() == BASE


def test_export_refuses_a_name_of_another_format(cli: Cli) -> None:
    """A TorchScript archive named .safetensors would be taken for a model file by every later command."""
    code, _, err = cli("export", "cifar/resnet20", "--format", "torchscript", "-o", "x.safetensors")
    assert (code, err) == (
        1,
        "x.safetensors: torchscript is written to a .pt, .pth or .ts file, not a .safetensors one\n",
    )
    code, _, err = cli("export", "cifar/resnet20", "--format", "onnx", "-o", "model")
    assert (code, err) == (1, "model: onnx is written to a .onnx file; give the name that suffix\n")
    assert not Path("x.safetensors").exists() and not Path("model").exists()


@pytest.mark.parametrize("command", [["render"], ["build", "--diagram"]])
def test_diagrams_refuse_to_replace_the_spec(write: Write, cli: Cli, command: list[str]) -> None:
    write(BASE, "base.dot")  # a spec may have any name: what counts is that the command reads it
    argv = [command[0], "base.dot", *(["-o"] if command == ["render"] else command[1:]), "base.dot"]
    code, _, err = cli(*argv)
    assert (code, err) == (1, "base.dot: refusing to replace a file this command reads\n")
    assert Path("base.dot").read_text() == BASE


def test_weights_output_may_not_replace_the_weights_input(tmp_path: Path, cli: Cli) -> None:
    cli("build", "cifar/resnet20", "-o", str(tmp_path / "w.safetensors"))
    before = (tmp_path / "w.safetensors").read_bytes()
    code, _, err = cli(
        "build", "cifar/resnet20", "--weights", str(tmp_path / "w.safetensors"), "-o", str(tmp_path / "w.safetensors")
    )
    assert (code, err) == (1, f"{tmp_path / 'w.safetensors'}: refusing to replace a file this command reads\n")
    assert (tmp_path / "w.safetensors").read_bytes() == before


def test_a_hard_link_to_an_input_is_the_input(write: Write, cli: Cli) -> None:
    write(BASE, "base.yaml")
    os.link("base.yaml", "alias.dot")
    code, _, err = cli("render", "base.yaml", "-o", "alias.dot")
    assert (code, err) == (1, "alias.dot: refusing to replace a file this command reads\n")
    assert Path("base.yaml").read_text() == BASE


def test_train_refuses_to_replace_the_users_spec_and_settings(write: Write, cli: Cli) -> None:
    spec = write("netspec: 1\n# mine\nextends: cifar/resnet20\nhead: {classes: 4}\n", "spec.yaml")
    settings = write(
        "# my settings\ndata: fake\nepochs: 1\nfake_images: 16\nbatch_size: 16\nworkers: 0\n", "settings.yaml"
    )
    before = spec.read_text(), settings.read_text()
    code, out, err = cli("train", "spec.yaml", "--config", "settings.yaml", "--out", ".")
    assert (code, out, err) == (1, "", "spec.yaml: refusing to replace a file this command reads\n")
    assert (spec.read_text(), settings.read_text()) == before
    assert sorted(p.name for p in Path(".").iterdir()) == ["settings.yaml", "spec.yaml"]  # nothing written


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: os.mkfifo(p), "a named pipe (FIFO)"),
        (lambda p: p.symlink_to("/proc/self/fd/1"), "a symbolic link"),
        (lambda p: p.mkdir(), "a directory"),
    ],
    ids=["fifo", "symlink-to-stdout", "directory"],
)
def test_outputs_replace_regular_files_only(tmp_path: Path, cli: Cli, make: Callable[[Path], None], kind: str) -> None:
    target = tmp_path / "out.json"
    make(target)
    code, _, err = cli("schema", "-o", str(target))
    assert (code, err) == (1, f"{target}: refusing to replace {kind}; outputs replace regular files only\n")
    assert not stat.S_ISREG(os.lstat(target).st_mode)


def test_a_device_is_not_replaced() -> None:
    # Through check(), which never writes: were the refusal to regress, this test must not replace /dev/null (the
    # code before this check did exactly that). The commands call check() before any work, as the FIFO case shows.
    with pytest.raises(NetspecError) as caught:
        Writer().check(Path("/dev/null"))
    assert str(caught.value) == "/dev/null: refusing to replace a character device; outputs replace regular files only"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_replacing_keeps_the_files_mode(tmp_path: Path, cli: Cli) -> None:
    target = tmp_path / "schema.json"
    target.write_text("old")
    target.chmod(0o600)
    assert cli("schema", "-o", str(target))[0] == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_text() != "old"


def test_a_full_disk_names_the_target_and_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "weights.pt"
    target.write_bytes(b"the last good weights")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(NetspecError) as caught:
        Writer().write(target, b"x" * 4096)
    assert str(caught.value) == f"{target}: cannot write it: No space left on device"
    assert target.read_bytes() == b"the last good weights"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.pt"]  # no temporary file left behind


def test_a_file_size_limit_is_a_one_line_error(tmp_path: Path) -> None:
    """A real fault, not a stub: the kernel refuses writes past RLIMIT_FSIZE (the signal it sends is ignored)."""
    target = tmp_path / "schema.json"
    target.write_text("old schema")

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))

    done = subprocess.run(
        [sys.executable, "-m", "netspec", "schema", "-o", str(target)],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"{target}: cannot write it: File too large\n")
    assert target.read_text() == "old schema" and [p.name for p in tmp_path.iterdir()] == ["schema.json"]


def test_a_missing_folder_is_named(tmp_path: Path, cli: Cli) -> None:
    code, _, err = cli("schema", "-o", str(tmp_path / "nowhere" / "s.json"))
    assert (code, err) == (1, f"{tmp_path / 'nowhere' / 's.json'}: folder {tmp_path / 'nowhere'} does not exist\n")


def test_putting_a_written_file_in_place_has_the_same_refusals(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "curves.png")
    staged = tmp_path / "curves.png.next"
    staged.write_bytes(b"png")
    with pytest.raises(NetspecError) as caught:
        Writer().move(staged, tmp_path / "curves.png")
    assert str(caught.value) == (
        f"{tmp_path / 'curves.png'}: refusing to replace a named pipe (FIFO); outputs replace regular files only"
    )
    (tmp_path / "kept.txt").write_text("old")
    (tmp_path / "kept.txt").chmod(0o640)
    Writer().move(staged, tmp_path / "kept.txt")
    assert (tmp_path / "kept.txt").read_bytes() == b"png" and stat.S_IMODE(
        (tmp_path / "kept.txt").stat().st_mode
    ) == 0o640
