"""The JSON Schema of a spec *file*: the Spec model's schema, plus `extends`, which relaxes `required`, as
`regnet` does for stages."""

from __future__ import annotations

import json
from typing import Any

from netspec.registry import block_names, block_type
from netspec.spec import Spec

SCHEMA_ID = "https://netspec.dev/schema/netspec-v1.json"


def file_schema() -> dict[str, Any]:
    """A file that `extends` another may leave out any field; a file that does not must be complete."""
    schema = Spec.model_json_schema()
    _block_options(schema["$defs"])
    required = schema.pop("required")
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "builtin spec name or path relative to this file; its fields are deep-merged under ours",
    }
    # A file that extends another may leave out stages; so may one that gives `regnet`, which then replaces them.
    schema["if"] = {"not": {"anyOf": [{"required": ["extends"]}, {"required": ["regnet"]}]}}
    schema["then"] = {"required": [r for r in required if r != "name"]}
    schema["not"] = {"required": ["regnet", "stages"]}
    schema["required"] = ["netspec"]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def _block_options(defs: dict[str, Any]) -> None:
    """`options` holds the settings of the block type's own model (registered with it): one of them."""
    refs: list[dict[str, Any]] = []
    for name in block_names():
        model = block_type(name).options
        if model is not None:
            defs[model.__name__] = model.model_json_schema()
            refs.append({"$ref": f"#/$defs/{model.__name__}"})
    for where, extra in (("BlockSettings", []), ("Stage", [{"type": "null"}])):
        prop = defs[where]["properties"]["options"]
        kept = {key: prop[key] for key in ("default", "description") if key in prop}
        choices = refs or [{"type": "object", "maxProperties": 0}]  # no type has options: none may be given
        defs[where]["properties"]["options"] = {"anyOf": [*choices, *extra], **kept}


def schema_text() -> str:
    return json.dumps(file_schema(), indent=2, sort_keys=False) + "\n"
