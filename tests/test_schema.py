"""The exported JSON Schema: up to date, referenced by every builtin spec, and checking them for real."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from netspec.schema import file_schema, schema_text
from netspec.sources import builtin_dir

SCHEMA = builtin_dir() / "netspec.schema.json"
SPECS = sorted(builtin_dir().rglob("*.yaml"))


def test_schema_file_is_generated_from_the_models() -> None:
    assert SCHEMA.read_text() == schema_text(), "run: netspec schema -o specs/netspec.schema.json"


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.relative_to(builtin_dir()).as_posix())
def test_builtin_spec_validates_against_the_schema_it_names(path: Path) -> None:
    import yaml

    first = path.read_text().splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    assert (path.parent / first[len(prefix) :]).resolve() == SCHEMA.resolve()
    jsonschema.validate(yaml.safe_load(path.read_text()), json.loads(SCHEMA.read_text()))


def test_schema_rejects_what_the_models_reject() -> None:
    schema = file_schema()
    good = {"netspec": 1, "stages": [{"depth": 2, "width": 64, "stride": 1}]}
    jsonschema.validate(good, schema)
    for bad in (
        {**good, "stages": [{"depth": 2, "width": 64, "stride": 1, "deph": 2}]},
        {**good, "block": {"order": "prost"}},
        {**good, "stem": "imagnet"},
        {"netspec": 1, "name": "no stages"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_a_file_that_extends_may_be_partial() -> None:
    jsonschema.validate({"netspec": 1, "extends": "resnet50", "head": {"classes": 10}}, file_schema())
