"""Hostile and broken input: every file of tests/data/bad gives one located error, quickly, with bounded memory."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

import netspec
from netspec.reader import read_document

Cli = Callable[..., tuple[int, str, str]]
BAD = Path(__file__).resolve().parent / "data" / "bad"
EXPECTED = list(csv.DictReader((BAD / "EXPECTED.tsv").open(), delimiter="\t"))


def test_the_corpus_is_large_enough() -> None:
    assert len(EXPECTED) >= 40
    assert sorted(row["file"] for row in EXPECTED) == sorted(p.name for p in BAD.glob("*.yaml"))


@pytest.mark.parametrize("row", EXPECTED, ids=[row["file"] for row in EXPECTED])
def test_bad_file(row: dict[str, str], cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    code, out, err = cli("validate", row["file"])
    first = err.splitlines()[0]
    assert (code, out) == (1, "")
    assert first.startswith(f"{row['file']}:{row['line']}:{row['column']}: ")
    assert row["fragment"] in first
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["alias_bomb.yaml", "nesting_5000_lists.yaml", "nesting_5000_mappings.yaml"])
def test_bombs_are_refused_fast_and_small(name: str) -> None:
    raw = (BAD / name).read_bytes()
    start = time.perf_counter()
    with pytest.raises(netspec.SpecError):
        read_document(raw, name)
    seconds = time.perf_counter() - start
    assert seconds < 0.5, f"{seconds:.2f} s"
    tracemalloc.start()  # a second run, measured apart: tracing slows allocation several times over
    with pytest.raises(netspec.SpecError):
        read_document(raw, name)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB"


def test_a_file_over_a_mebibyte_is_refused_unread(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "big.yaml").write_bytes(b"netspec: 1\n" + b"# padding\n" * 110_000)
    code, _, err = cli("validate", "big.yaml")
    assert (code, err) == (1, "big.yaml:1:1: the file is larger than the limit of 1,048,576 bytes\n")


def test_yaml_1_2_scalars(write: Callable[..., Path]) -> None:
    write("netspec: 1\nstages:\n  - {depth: 010, width: 0x10, stride: 0o1}\nhead: {dropout: 1e-1}\n")
    spec = netspec.load_spec("spec.yaml")
    # 010 is ten (YAML 1.1 read it as eight), 1e-1 a float (YAML 1.1 read it as a string).
    assert (spec.stages[0].depth, spec.stages[0].width, spec.stages[0].stride, spec.head.dropout) == (10, 16, 1, 0.1)


def test_raising_a_limit_lets_the_spec_through(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    assert cli("validate", "limit_kernel.yaml", "--limit", "kernel=99")[0] == 0
    code, _, err = cli("validate", "limit_kernel.yaml", "--limit", "kernal=99")
    assert (code, err) == (  # a usage error: one line, exit code 2
        2,
        "netspec validate: argument --limit: unknown limit 'kernal'; did you mean 'kernel'?; limits: blocks, channels, "
        "groups, kernel, params, macs, memory (see netspec validate --help)\n",
    )


def test_python_build_applies_the_limits() -> None:
    with pytest.raises(netspec.SpecError, match=r"stages.0.depth: 20,000 blocks in all exceeds the limit of 10,000"):
        netspec.build("cifar/resnet20", stages=[{"depth": 20_000, "width": 16, "stride": 1}])
    small = netspec.Limits(params=1_000)
    with pytest.raises(netspec.SpecError, match=r"269,722 parameters exceeds the limit of 1,000"):
        netspec.build(netspec.load_spec("cifar/resnet20"), limits=small)


# --set values are read as a file's values are: YAML 1.2, standard tags only, the same caps, one located line each.
BOMB_VALUE = "[&a [" + ", ".join(["x"] * 9) + "], "
BOMB_VALUE += "".join(f"&{n} [{', '.join([f'*{p}'] * 9)}], " for p, n in zip("abcdefgh", "bcdefghi", strict=True)) + "]"
SETS = {
    "octal-looking": ("stages.0.depth=010", None),  # ten blocks, as in a file (YAML 1.1 read eight)
    "sexagesimal": ("stages.0.depth=1:00", "stages.0.depth: expected an integer, got the string '1:00'"),
    "recursive-alias": (
        "head.hidden=&a [*a]",
        "head.hidden: the value '&a [*a]' is not valid: an alias refers to a node that contains it",
    ),
    "alias-bomb": ("head.hidden=" + BOMB_VALUE, "the document expands to more than 10,000 values (an alias bomb?)"),
    "deep": ("head.hidden=" + "[" * 5000 + "]" * 5000, "is not valid: nesting deeper than 64 levels"),
    "many-values": ("head.hidden=[" + ", ".join(["1"] * 10_001) + "]", "the document holds more than 10,000 values"),
    "huge-integer": ("stages.0.depth=" + "9" * 5000, "is not valid: an integer of 5000 digits is too large"),
    "code-tag": ("name=!!python/object/apply:os.system [x]", "the tag !!python/object/apply:os.system is not allowed"),
    "escape": ('name="\\e[2J"', "name: the value '\"\\e[2J\"' is not valid: control character U+001B is not allowed"),
    "broken": ("stages.0.depth=[1", "stages.0.depth: the value '[1' is not valid: expected ',' or ']'"),
}


@pytest.mark.parametrize("name", SETS)
def test_set_values_are_read_like_a_file(name: str) -> None:
    assignment, message = SETS[name]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "netspec", "validate", "cifar/resnet20", "--set", assignment],
        capture_output=True,
        text=True,
        timeout=60,  # the YAML 1.1 reading of --set expanded an alias bomb for minutes
        check=False,
    )
    seconds = time.perf_counter() - started
    if message is None:
        assert (done.returncode, done.stderr) == (0, "")
        assert "3 stages, 16 basic blocks" in done.stdout  # 10 + 3 + 3
        return
    shown = assignment if len(assignment) <= 40 else assignment[:37] + "..."
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"--set {shown}: ") and message in done.stderr, done.stderr
    assert seconds < 5


def test_an_extends_chain_is_capped_with_a_located_error(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for i in range(500):
        (tmp_path / f"s{i}.yaml").write_text(f"netspec: 1\nextends: s{i + 1}.yaml\n")
    code, out, err = cli("validate", "s0.yaml")
    assert (code, out, err) == (1, "", "s31.yaml:2:10: extends: an extends chain may hold at most 32 files\n")
    (tmp_path / "s30.yaml").write_text("netspec: 1\nextends: cifar/resnet20\n")  # s0-s30 and the builtin: 32
    assert cli("validate", "s0.yaml")[:2] == (0, "s0.yaml: ok (s0: 3 stages, 9 basic blocks, output 10)\n")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


SPECIAL = {
    "spec-fifo": (["validate", "IN.yaml"], _fifo, "IN.yaml: a named pipe (FIFO), not a regular file"),
    "spec-directory": (["validate", "IN.yaml"], Path.mkdir, "'IN.yaml' is a directory, not a spec file"),
    "config-fifo": (["train", "cifar/resnet20", "--config", "IN.yaml"], _fifo, "IN.yaml: a named pipe (FIFO), not a"),
    "config-directory": (["train", "cifar/resnet20", "--config", "IN.yaml"], Path.mkdir, "IN.yaml: a directory, not a"),
    "weights-fifo": (["build", "cifar/resnet20", "--weights", "IN.pt"], _fifo, "IN.pt: a named pipe (FIFO), not a"),
    "extends-fifo": (["validate", "child.yaml"], _fifo, "IN.yaml: a named pipe (FIFO), not a regular file"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", SPECIAL)
def test_special_files_are_refused_without_waiting(tmp_path: Path, name: str) -> None:
    argv, make, message = SPECIAL[name]
    target = tmp_path / ("IN.pt" if "IN.pt" in argv else "IN.yaml")
    make(target)
    (tmp_path / "child.yaml").write_text("netspec: 1\nextends: IN.yaml\n")
    done = subprocess.run(
        [sys.executable, "-m", "netspec", *argv], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr


def test_dev_zero_is_not_read_to_the_end(cli: Cli) -> None:
    code, _, err = cli("validate", "/dev/zero")
    assert (code, err) == (1, "/dev/zero: a character device, not a regular file\n")
