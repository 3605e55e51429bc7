"""The JSON Schema of a spec *file*: the Spec model's schema, plus `extends`, which relaxes `required`."""

from __future__ import annotations

import json
from typing import Any

from netspec.spec import Spec

SCHEMA_ID = "https://netspec.dev/schema/netspec-v1.json"


def file_schema() -> dict[str, Any]:
    """A file that `extends` another may leave out any field; a file that does not must be complete."""
    schema = Spec.model_json_schema()
    required = schema.pop("required")
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "builtin spec name or path relative to this file; its fields are deep-merged under ours",
    }
    schema["if"] = {"not": {"required": ["extends"]}}
    schema["then"] = {"required": [r for r in required if r != "name"]}
    schema["required"] = ["netspec"]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    return json.dumps(file_schema(), indent=2, sort_keys=False) + "\n"
