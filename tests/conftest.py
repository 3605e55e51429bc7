"""Shared helpers: write a spec into tmp_path and run the CLI in-process."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from netspec.cli import main

if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs a worker per core: one thread each, not one per core each
    import torch

    torch.set_num_threads(1)
    # And so do the processes the tests start (the CLI, torchrun's workers, the kill harness): OpenMP threads that
    # outnumber the cores spin while they wait for one, which cost 13% of the kill -9 test's CPU time here.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first: given out first, the longest runs overlap on the workers instead of ending alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


RESNET18_STAGES = """\
stages:
  - {depth: 2, width: 64, stride: 1}
  - {depth: 2, width: 128, stride: 2}
  - {depth: 2, width: 256, stride: 2}
  - {depth: 2, width: 512, stride: 2}
"""


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """write(text, name="spec.yaml"): a file in tmp_path, which is also the working directory."""
    monkeypatch.chdir(tmp_path)

    def _write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return Path(name)

    return _write


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """cli(*argv) -> (exit code, stdout, stderr)."""

    def _run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return _run
