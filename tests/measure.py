"""Runs a command and prints, as JSON, its exit code, standard error, wall seconds and peak resident memory.

A separate small process, because Linux carries a process's peak RSS across fork and exec: measured straight from
a large parent (pytest with torch imported), the child's peak would include the parent's size. Forked from this
one it starts from a few MiB. The command is killed after `--timeout` seconds.

Usage: python tests/measure.py [--timeout S] COMMAND...   (or, from a test, measured(argv, cwd))
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GiB = 1 << 30


@dataclass(frozen=True)
class Measured:
    """A finished command: its exit code, standard error, wall seconds and peak resident bytes."""

    code: int
    err: str
    seconds: float
    peak: int


def measured(argv: list[str], cwd: Path, timeout: float = 60.0, env: dict[str, str] | None = None) -> Measured:
    """Run `argv` (a netspec command line: ["summary", "x.yaml"]) in a fresh process, measured from this small one."""
    command = [sys.executable, __file__, "--timeout", str(timeout), sys.executable, "-m", "netspec", *argv]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True, env=env)
    result = json.loads(done.stdout)
    return Measured(result["code"], result["err"], result["seconds"], result["peak"])


def main(argv: list[str]) -> None:
    timeout = 60.0
    if argv[:1] == ["--timeout"]:
        timeout, argv = float(argv[1]), argv[2:]
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    timer.cancel()
    seconds = time.perf_counter() - started
    result = {"code": os.waitstatus_to_exitcode(status), "err": err, "seconds": seconds, "peak": usage.ru_maxrss * 1024}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
