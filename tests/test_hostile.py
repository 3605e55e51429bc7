"""Hostile and broken input: every file of tests/data/bad gives one located error, quickly, with bounded memory."""

from __future__ import annotations

import csv
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
    assert (code, err) == (
        1,
        "--limit kernal=99: unknown limit 'kernal'; limits: blocks, channels, groups, kernel, params, macs\n",
    )


def test_python_build_applies_the_limits() -> None:
    with pytest.raises(netspec.SpecError, match=r"stages.0.depth: 20,000 blocks in all exceeds the limit of 10,000"):
        netspec.build("cifar/resnet20", stages=[{"depth": 20_000, "width": 16, "stride": 1}])
    small = netspec.Limits(params=1_000)
    with pytest.raises(netspec.SpecError, match=r"269,722 parameters exceeds the limit of 1,000"):
        netspec.build(netspec.load_spec("cifar/resnet20"), limits=small)
