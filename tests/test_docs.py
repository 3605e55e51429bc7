"""Docs that are generated stay generated: the field tables and the schema match the models."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_generated_docs_are_current() -> None:
    assert _script("gen_docs").main(["--check"]) == 0, "run: python scripts/gen_docs.py"


def test_zoo_table_is_current() -> None:
    assert _script("gen_zoo").main(["--check"]) == 0, "run: python scripts/gen_zoo.py"


def test_readme_links_every_page() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in readme, page.name


def test_every_model_field_is_documented() -> None:
    from netspec.spec import BlockSettings, Head, Input, Spec, Stage, Stem, StemConv

    text = (ROOT / "docs" / "spec-format.md").read_text()
    for model in (Spec, Input, Stem, StemConv, BlockSettings, Stage, Head):
        for name, field in model.model_fields.items():
            assert f"| `{name}` |" in text and field.description, f"{model.__name__}.{name}"
