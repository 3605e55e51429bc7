"""Docs that are generated stay generated: the field tables and the schema match the models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_generated_docs_are_current() -> None:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    gen_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_docs)
    assert gen_docs.main(["--check"]) == 0, "run: python scripts/gen_docs.py"


def test_every_model_field_is_documented() -> None:
    from netspec.spec import BlockSettings, Head, Input, Spec, Stage, Stem, StemConv

    text = (ROOT / "docs" / "spec-format.md").read_text()
    for model in (Spec, Input, Stem, StemConv, BlockSettings, Stage, Head):
        for name, field in model.model_fields.items():
            assert f"| `{name}` |" in text and field.description, f"{model.__name__}.{name}"
