"""The command line: output, exit codes, saved weights, and no torch import on the validate path."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import load_file

import netspec
from netspec.sources import builtin_names

Cli = Callable[..., tuple[int, str, str]]
ROOT = Path(__file__).resolve().parents[1]


def test_validate_never_imports_torch() -> None:
    code = (
        "import sys; from netspec.cli import main; rc = main(['validate', 'specs/resnet50.yaml']);"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'numpy'));"
        "print(rc, heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "0 []"


def test_validate_reports_each_file(cli: Cli) -> None:
    code, out, err = cli("validate", "specs/resnet18.yaml", "resnet50")
    assert (code, err) == (0, "")
    assert out == (
        "specs/resnet18.yaml: ok (resnet18: 4 stages, 8 basic blocks, output 1000)\n"
        "resnet50: ok (resnet50: 4 stages, 16 bottleneck blocks, output 1000)\n"
    )


def test_build_prints_the_stage_summary(cli: Cli) -> None:
    code, out, err = cli("build", "specs/resnet101.yaml")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("resnet101 - ")
    header = ["layer", "type", "stride", "width", "inner", "out", "output", "shape", "params", "MACs", "%", "MACs"]
    assert lines[3].split() == header
    rows = {cells[0]: cells for cells in (re.split(r"\s{2,}", line.strip()) for line in lines[4:11])}
    assert rows["layer3"][:8] == [
        "layer3",
        "23 x bottleneck",
        "2",
        "256",
        "256",
        "1024",
        "1024 x 14 x 14",
        "26,090,496",
    ]
    assert rows["layer4"][6] == "2048 x 7 x 7"
    reference = torchvision.models.resnet101()
    per_stage = {f"layer{i}": sum(p.numel() for p in getattr(reference, f"layer{i}").parameters()) for i in range(1, 5)}
    for name, params in per_stage.items():
        assert rows[name][7] == f"{params:,}"
    assert rows["total"][1] == "44,549,160"
    assert rows["head"][5:8] == ["1000", "1000", "2,049,000"]


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_build_saves_weights_that_load_strictly(tmp_path: Path, cli: Cli, suffix: str) -> None:
    target = tmp_path / f"resnet18{suffix}"
    code, out, _ = cli("build", "resnet18", "-o", str(target))
    assert code == 0 and out.endswith(f"weights written to {target}\n")
    state = load_file(target) if suffix == ".safetensors" else torch.load(target, weights_only=True)
    netspec.build("resnet18").load_state_dict(state, strict=True)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left behind


def test_build_refuses_an_unknown_weights_format(tmp_path: Path, cli: Cli) -> None:
    code, out, err = cli("build", "resnet18", "-o", str(tmp_path / "w.bin"))
    assert (code, out) == (1, "")
    assert err == f"{tmp_path / 'w.bin'}: unsupported weights format '.bin'; use .pt or .safetensors\n"
    assert not list(tmp_path.iterdir())


def test_build_refuses_to_overwrite_its_spec(tmp_path: Path, cli: Cli) -> None:
    spec = tmp_path / "net.pt"
    spec.write_text((ROOT / "specs/resnet18.yaml").read_text())
    code, _, err = cli("build", str(spec), "-o", str(spec))
    assert (code, err) == (1, f"{spec}: refusing to replace a file this command reads\n")
    assert spec.read_text() == (ROOT / "specs/resnet18.yaml").read_text()


def test_list_shows_every_builtin_with_its_description(cli: Cli) -> None:
    code, out, _ = cli("list")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names == builtin_names()
    # Top-level specs first, in natural order: resnet18 before resnet101.
    assert [n for n in names if n.startswith("resnet")][:5] == [
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
        "resnet152",
    ]
    assert "/" not in "".join(names[: len([n for n in names if "/" not in n])])
    assert "ResNet-50 v1.5 as in torchvision" in out


def test_schema_command_writes_the_schema(tmp_path: Path, cli: Cli) -> None:
    code, out, _ = cli("schema")
    assert code == 0 and out == (ROOT / "specs/netspec.schema.json").read_text()
    assert cli("schema", "-o", str(tmp_path / "s.json"))[0] == 0
    assert (tmp_path / "s.json").read_text() == out


def test_python_dash_m_and_the_console_script() -> None:
    result = subprocess.run([sys.executable, "-m", "netspec", "validate", "resnet34"], capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, "")
    bad = subprocess.run([sys.executable, "-m", "netspec", "build", "resnet05"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr == "no spec file or builtin spec named 'resnet05'; did you mean 'resnet50'?\n"
    assert "Traceback" not in bad.stderr


def test_outputs_get_the_usual_file_mode(tmp_path: Path, cli: Cli) -> None:
    import os

    mask = os.umask(0o022)
    try:
        assert cli("schema", "-o", str(tmp_path / "s.json"))[0] == 0
    finally:
        os.umask(mask)
    assert (tmp_path / "s.json").stat().st_mode & 0o777 == 0o644
