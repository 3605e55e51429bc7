"""`pip install .` ships the builtin specs and the schema inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_builtin_specs(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("netspec-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    specs = {p.relative_to(ROOT).as_posix() for p in (ROOT / "specs").rglob("*") if p.is_file()}
    assert {f"netspec/{name}" for name in specs} <= names
    assert "netspec/specs/resnet101.yaml" in names and "netspec/specs/netspec.schema.json" in names
