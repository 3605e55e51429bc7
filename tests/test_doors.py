"""One gate for every door: each command and each Python entry point, given a file, a builtin name or a Spec
object, refuses a network over the limits before allocating it, in one line, quickly and in little memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HUGE = "netspec: 1\nextends: resnet18\nstages:\n  - {depth: 100000000, width: 64, stride: 1}\n"
LIMIT = "100,000,000 blocks in all exceeds the limit of 10,000; raise it with --limit blocks=100000000"
AT_FILE = f"huge.yaml:4:13: stages.0.depth: {LIMIT}"
AT_OBJECT = f"<spec>: stages.0.depth: {LIMIT}"
SPEC_OBJECT = "netspec.load_spec('huge.yaml')"  # load_spec validates, but only what costs is held to the limits
PYTHON = {
    "build(path)": ("netspec.build('huge.yaml')", AT_FILE),
    "build(Spec)": (f"netspec.build({SPEC_OBJECT})", AT_OBJECT),
    "build(Spec, overrides)": (
        "netspec.build(netspec.load_spec('resnet18'), stages=[{'depth': 10**8, 'width': 64, 'stride': 1}])",
        f"keyword overrides: stages.0.depth: {LIMIT}",
    ),
    "diagram(path)": ("netspec.diagram('huge.yaml')", AT_FILE),
    "diagram(Spec)": (f"netspec.diagram({SPEC_OBJECT})", AT_OBJECT),
    "train(path)": ("netspec.train('huge.yaml', data='fake')", AT_FILE),
    "train(Spec)": (f"netspec.train({SPEC_OBJECT}, data='fake')", AT_OBJECT),
}
COMMANDS = {
    "validate": ["validate", "huge.yaml"],
    "summary": ["summary", "huge.yaml"],
    "diff": ["diff", "resnet18", "huge.yaml"],
    "render": ["render", "huge.yaml", "-o", "huge.svg"],
    "build": ["build", "huge.yaml"],
    "export": ["export", "huge.yaml", "--format", "onnx", "-o", "huge.onnx"],
    "train": ["train", "huge.yaml", "--data", "fake"],
    "bench": ["bench", "huge.yaml"],
}


def _measured(argv: list[str], cwd: Path) -> tuple[int, str, float, int]:
    """Exit code, standard error, wall seconds and peak resident memory in bytes of a fresh process, killed if it
    runs past a minute (the unguarded doors ran for good); see tests/measure.py for why a helper measures it."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "measure.py"), *argv], cwd=cwd, capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    return result["code"], result["err"], result["seconds"], result["peak"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "huge.yaml").write_text(HUGE)
    return tmp_path


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_refuses_a_huge_network_in_one_line(folder: Path, name: str) -> None:
    code, err, seconds, peak = _measured([sys.executable, "-m", "netspec", *COMMANDS[name]], folder)
    assert (code, err) == (1, AT_FILE + "\n")
    assert seconds < 5 and peak < 2 * 2**30, (seconds, peak)
    assert sorted(p.name for p in folder.iterdir()) == ["huge.yaml"]  # nothing written


@pytest.mark.parametrize("name", PYTHON)
def test_every_python_entry_point_refuses_a_huge_network(folder: Path, name: str) -> None:
    call, expected = PYTHON[name]
    script = f"import netspec\ntry:\n    {call}\nexcept netspec.SpecError as exc:\n    raise SystemExit(str(exc))\n"
    code, err, seconds, peak = _measured([sys.executable, "-c", script], folder)
    assert (code, err) == (1, expected + "\n")
    assert seconds < 5 and peak < 2 * 2**30, (seconds, peak)
    assert sorted(p.name for p in folder.iterdir()) == ["huge.yaml"]


def test_limits_can_be_raised_at_every_python_door() -> None:
    import netspec

    small = netspec.Limits(params=1_000)
    for call in (netspec.build, netspec.diagram):
        with pytest.raises(
            netspec.SpecError, match=r"^<spec>: stages.2: 269,722 parameters exceeds the limit of 1,000;"
        ):
            call(netspec.load_spec("cifar/resnet20"), limits=small)
    with pytest.raises(netspec.SpecError, match=r"269,722 parameters exceeds the limit of 1,000"):
        netspec.train("cifar/resnet20", data="fake", limits=small)


def test_diff_takes_limits_like_the_other_commands(folder: Path) -> None:
    code, err, _, _ = _measured(
        [sys.executable, "-m", "netspec", "diff", "resnet18", "resnet50", "--limit", "params=1e6"], folder
    )
    assert code == 1 and err.endswith(
        "specs/resnet18.yaml:11:5: stages.3: 11,689,512 parameters exceeds the limit of 1,000,000; raise it with "
        "--limit params=11689512\n"
    )
