"""Installs are reproducible and behaviour depends on no optional C extension: the lock pins every dependency that
pyproject.toml declares, within its range, and the reader answers the same with libyaml or without it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"


def _pins() -> dict[str, str]:
    # `make lock` checks the lock it is about to write (NETSPEC_LOCK), before it replaces constraints.txt.
    lines = Path(os.environ.get("NETSPEC_LOCK", ROOT / "constraints.txt")).read_text().splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    assert all(len(pin) == 2 for pin in pins), "every line of constraints.txt is NAME==VERSION"
    return {canonicalize_name(name): version for name, version in pins}


def test_the_lock_pins_every_declared_dependency_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"], "pip", "setuptools"]
    pins = _pins()
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is declared but not in constraints.txt: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is not {text}"


def test_the_lock_agrees_with_the_pinned_torch() -> None:
    torch = re.search(r"^TORCH := (.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert torch is not None
    pins = _pins()
    for pinned in torch[1].split():
        name, version = pinned.split("==")
        assert pins[name] == version, name


READ_ALL = """
import json, sys
from pathlib import Path
from netspec.errors import SpecError
from netspec.reader import read_document
import yaml
answers = {"libyaml": yaml.__with_libyaml__}
for path in sorted(Path(sys.argv[1]).glob("*.yaml")):
    try:
        answers[path.name] = read_document(path.read_bytes(), path.name).data is not None
    except SpecError as exc:
        answers[path.name] = str(exc)
print(json.dumps(answers))
"""


def _read_all(block_libyaml: bool) -> dict[str, object]:
    prelude = "import sys; sys.modules['yaml._yaml'] = None\n" if block_libyaml else ""
    done = subprocess.run(
        [sys.executable, "-c", prelude + READ_ALL, str(BAD)], capture_output=True, text=True, check=True
    )
    answers: dict[str, object] = json.loads(done.stdout)
    return answers


def test_the_reader_answers_the_same_without_libyaml() -> None:
    without, usual = _read_all(block_libyaml=True), _read_all(block_libyaml=False)
    assert without.pop("libyaml") is False
    usual.pop("libyaml")
    assert without == usual
    assert len(without) == len(list(BAD.glob("*.yaml"))) and "nesting deeper than 64 levels" in str(without)
