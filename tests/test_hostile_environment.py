"""Round 3, the environment: distributed settings are read only when torchrun's whole set is there, and a working
folder that was deleted is said in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TORCHRUN = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


def _netspec(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in TORCHRUN}
    command = [sys.executable, "-m", "netspec", *argv]
    return subprocess.run(command, cwd=cwd, env=clean | env, capture_output=True, text=True, timeout=120, check=False)


def test_a_stray_rank_silences_nothing(tmp_path: Path) -> None:
    done = _netspec(["summary", "cifar/resnet20"], tmp_path, RANK="1")  # a cluster shell's RANK, outside torchrun
    assert done.returncode == 0 and done.stdout.startswith("resnet20 - "), done
    done = _netspec(["summary", "resnet05"], tmp_path, RANK="1")
    message = "no spec file or builtin spec named 'resnet05'; did you mean 'resnet50'?\n"
    assert (done.returncode, done.stdout, done.stderr) == (1, "", message)


@pytest.mark.slow
def test_a_stray_world_size_trains_one_process(tmp_path: Path) -> None:
    argv = ["train", "cifar/resnet20", "--data", "fake", "--fake-images", "16", "--batch-size", "8", "--epochs", "1"]
    done = _netspec([*argv, "--workers", "0", "--out", "run"], tmp_path, WORLD_SIZE="2")
    assert (done.returncode, done.stderr) == (0, ""), done
    assert done.stdout.endswith("results in run: metrics.jsonl, curves.png, last and best checkpoints\n")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"RANK": "one"}, "environment variable RANK='one': expected a whole number, as torchrun sets it"),
        ({"RANK": "2", "WORLD_SIZE": "2"}, "environment variables RANK=2 and WORLD_SIZE=2: RANK must be less"),
    ],
)
def test_torchruns_set_with_a_bad_value_is_one_line(tmp_path: Path, change: dict[str, str], message: str) -> None:
    argv = ["train", "cifar/resnet20", "--data", "fake", "--fake-images", "16", "--batch-size", "8", "--epochs", "1"]
    done = _netspec(argv, tmp_path, **(TORCHRUN | change))
    assert (done.returncode, done.stderr) == (1, f"{message}\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv", [["list"], ["validate", "resnet18"], ["validate", "ABSOLUTE"], ["summary", "cifar/resnet20"]]
)
def test_a_deleted_working_folder_is_one_line(tmp_path: Path, argv: list[str]) -> None:
    (tmp_path / "spec.yaml").write_text("netspec: 1\nextends: resnet18\n")
    gone = tmp_path / "gone"
    gone.mkdir()
    argv = [str(tmp_path / "spec.yaml") if a == "ABSOLUTE" else a for a in argv]
    script = "import os, sys, runpy; os.rmdir(os.getcwd()); sys.argv = ['netspec', *sys.argv[1:]]; "
    script += "runpy.run_module('netspec', run_name='__main__')"
    done = subprocess.run([sys.executable, "-c", script, *argv], cwd=gone, capture_output=True, text=True, check=False)
    message = "netspec: the working folder no longer exists (it was deleted or moved); cd into a folder that does\n"
    assert (done.returncode, done.stdout, done.stderr) == (1, "", message)
