"""Kills training runs with SIGKILL between two of their writes, then resumes them: run by tests/test_runs.py in a
fresh process, which imports torch once and computes nothing itself, so that each run can be a forked child.

Every file netspec writes ends in an os.replace (a write's rename, or the install of a staged file), so killing
a child just before its k-th os.replace, for every k, stops it between every pair of writes.

Usage: python tests/kill_harness.py ROOT SPEC SETTINGS_JSON  -> prints a JSON report on its last line
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import netspec
import netspec.curves
import netspec.trainer  # torch and torchvision, imported once before any fork
from netspec.errors import NetspecError


def plotted(history: list[dict[str, float]]) -> bytes:
    """curves.png's content, as matplotlib's would be one for each history: what is killed here is the writing of
    the run's files, not the drawing (tests/test_train.py reads a real plot), which was 40% of this campaign."""
    return json.dumps(history).encode()


netspec.curves.learning_curves = plotted  # records.py looks it up when it writes an epoch


def in_child(work: Callable[[], None]) -> str:
    """Run `work` in a forked child: 'done', 'killed' (SIGKILL), or 'failed' (with its traceback on stderr)."""
    pid = os.fork()
    if pid == 0:
        try:
            work()
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return "killed"
    return "done" if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else "failed"


def count_replaces(limit: int | None, report: Path | None = None) -> None:
    """Count os.replace calls; kill this process just before call number `limit`; write the count to `report`."""
    real, calls = os.replace, [0]

    def replace(src: Any, dst: Any) -> None:
        calls[0] += 1
        if calls[0] == limit:
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst)
        if report is not None:
            report.write_text(str(calls[0]))

    os.replace = replace  # type: ignore[assignment]


def train(spec: str, settings: dict[str, Any], epochs: int, out: Path, resume: bool = False) -> None:
    netspec.train(spec, resume=resume, **settings | {"epochs": epochs, "out": str(out)})


def resume_or_refuse(spec: str, settings: dict[str, Any], out: Path) -> None:
    """Resume to 3 epochs; a refusal is recorded in refused.txt beside the folder, then a fresh run is started."""
    try:
        train(spec, settings, 3, out, resume=True)
    except NetspecError as exc:
        out.with_suffix(".refused").write_text(str(exc))
        train(spec, settings, 3, out)


def main(root: Path, spec: str, settings: dict[str, Any]) -> dict[str, Any]:
    counted = root / "count"

    def probe() -> None:
        count_replaces(None, counted)
        train(spec, settings, 2, root / "probe")

    assert in_child(probe) == "done"
    total = int(counted.read_text())
    report: dict[str, Any] = {"points": total, "whole": in_child(lambda: train(spec, settings, 3, root / "whole"))}
    for k in range(1, total + 1):
        out = root / f"killed-{k}"

        def killed(k: int = k, out: Path = out) -> None:
            count_replaces(k)
            train(spec, settings, 2, out)

        report[str(k)] = [in_child(killed), in_child(lambda out=out: resume_or_refuse(spec, settings, out))]
    return report


if __name__ == "__main__":
    os.chdir(sys.argv[1])
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]))))
