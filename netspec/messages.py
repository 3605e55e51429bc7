"""Pydantic's validation errors, rewritten as one-line messages at the place in the file they concern."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from inspect import isclass
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from netspec.errors import Diagnostic, Mark, closest, did_you_mean, printable, quote_choices

Loc = tuple[str | int, ...]
Locate = Callable[[Loc, bool], Mark]  # (path, at the key rather than the value) -> mark

_KINDS = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "tuple_type": "a list",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
}
_BOUNDS = {"greater_than_equal": ("ge", "at least"), "greater_than": ("gt", "greater than")}
_BOUNDS |= {"less_than_equal": ("le", "at most"), "less_than": ("lt", "less than")}


def diagnostics(error: ValidationError, model: type[BaseModel], locate: Locate) -> list[Diagnostic]:
    """One diagnostic per problem in `error`, placed with `locate`."""
    details = _unions([err for err in error.errors(include_url=False) if not _echo(err, error)])
    suggested = _suggested_fields(details, model)
    found: list[Diagnostic] = []
    for err in details:
        loc = tuple(err["loc"])
        if err["type"] == "spec_problems":
            found += (problem_at(path, message, locate) for path, message in err["ctx"]["problems"])
        elif not (err["type"] == "missing" and loc in suggested):
            at_key = err["type"] == "extra_forbidden"
            found.append(Diagnostic(locate(loc, at_key), _dotted(loc), _message(err, model)))
    return found


# pydantic's name for a member of a union: 'tuple[str, ...]', 'dict[str,str]', 'constrained-int' (an int with bounds)
_TAG = re.compile(r"^(\w+\[.*\]|constrained-\w+)$")


def _unions(details: list[ErrorDetails]) -> list[ErrorDetails]:
    """A value that fits no member of a union is reported by pydantic once per member, under the member's name.
    Keep the members whose kind the value has (a list for a tuple), their errors placed without the name; when it
    has none of their kinds, one error naming each kind that would do."""
    out: list[ErrorDetails] = []
    unions: dict[Loc, list[tuple[int, ErrorDetails]]] = {}
    for err in details:
        loc = tuple(err["loc"])
        tag = next((i for i, part in enumerate(loc) if isinstance(part, str) and _TAG.match(part)), None)
        if tag is None:
            out.append(err)
        else:
            unions.setdefault(loc[:tag], []).append((tag, err))
    for prefix, errs in unions.items():
        # A member the value is of fails inside it (an item of a list), or on a bound (a number below its minimum).
        inside = [_placed(err, prefix + tuple(err["loc"][i + 1 :])) for i, err in errs if _fits(err, i)]
        if inside:
            out += inside
            continue
        kinds = " or ".join(dict.fromkeys(_KINDS.get(err["type"], err["type"]) for _, err in errs))
        value = errs[0][1].get("input")
        combined = _placed(errs[0][1], prefix)
        combined["type"], combined["msg"] = "union", f"expected {kinds}, got {describe(value)}"
        out.append(combined)
    return out


def _fits(err: ErrorDetails, tag: int) -> bool:
    """Whether the value was of the union member whose error this is (tagged at `tag` in its loc)."""
    return len(err["loc"]) > tag + 1 or err["type"] not in _KINDS


def _placed(err: ErrorDetails, loc: Loc) -> ErrorDetails:
    moved = err.copy()
    moved["loc"] = loc
    return moved


def field_problems(error: ValidationError, model: type[BaseModel]) -> list[tuple[str, str]]:
    """(dotted field, message) for each problem in `error`, raised by validating `model`."""
    return [(_dotted(tuple(err["loc"])), _message(err, model)) for err in error.errors(include_url=False)]


def _echo(err: ErrorDetails, error: ValidationError) -> bool:
    """Pydantic also calls a list too short when its items failed: only the items' errors help a person."""
    if err["type"] != "too_short":
        return False
    loc = tuple(err["loc"])
    return any(len(other["loc"]) > len(loc) and tuple(other["loc"][: len(loc)]) == loc for other in error.errors())


def problem_at(path: str, message: str, locate: Locate) -> Diagnostic:
    """A (dotted field, message) problem placed where that field was written: at the key of an unknown one."""
    return Diagnostic(locate(loc_of(path), message.startswith(("unknown field ", "unknown feature "))), path, message)


def loc_of(dotted: str) -> Loc:
    """'stages.2.depth' as a path: ('stages', 2, 'depth')."""
    return tuple(int(p) if p.isdigit() else p for p in dotted.split("."))


def _dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)


def _message(err: ErrorDetails, model: type[BaseModel]) -> str:
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx", {})
    if kind == "extra_forbidden":
        return _unknown_field(str(err["loc"][-1]), _fields_at(model, tuple(err["loc"][:-1])))
    if kind == "missing":
        return "missing required field"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", ctx["expected"]) or [ctx["expected"]]
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        return f"expected {quote_choices(choices)}, got {describe(value)}{hint}"
    if kind in _KINDS:
        return f"expected {_KINDS[kind]}, got {describe(value)}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"must be {words} {ctx[key]}, got {describe(value)}"
    if kind == "finite_number":
        return f"must be a finite number, got {describe(value)}"
    if kind == "too_short":
        return f"needs at least {ctx['min_length']} item{'s' if ctx['min_length'] != 1 else ''}"
    return err["msg"]


# Names people bring from other tools, too far from ours in spelling for difflib to suggest.
SYNONYMS = {"learning_rate": "lr", "num_workers": "workers", "wd": "weight_decay", "batch": "batch_size"}


def _unknown_field(name: str, known: list[str]) -> str:
    synonym = SYNONYMS.get(name)
    hint = f"; did you mean '{synonym}'?" if synonym in known else did_you_mean(name, known)
    return f"unknown field '{name}'{hint}" if hint else f"unknown field '{name}'; known fields: {', '.join(known)}"


def _suggested_fields(details: list[ErrorDetails], model: type[BaseModel]) -> set[Loc]:
    """Missing fields that a 'did you mean' already points at, or that a wrong `regnet` would have given:
    reporting them again is noise."""
    out: set[Loc] = {("stages",)} if any(err["loc"][:1] == ("regnet",) for err in details) else set()
    for err in details:
        if err["type"] == "extra_forbidden":
            parent = tuple(err["loc"][:-1])
            match = closest(str(err["loc"][-1]), _fields_at(model, parent))
            if match:
                out.add((*parent, match))
    return out


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model that validates the mapping at `loc`."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, str):
            field = current.model_fields.get(part)
            current = _model_in(field.annotation) if field is not None else None
    return list(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `tuple[Stage, ...] | None`."""
    if isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def describe(value: Any) -> str:
    """A YAML reader's name for a value: "the string '3'", "true", "a list"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null (an empty value)"
    if isinstance(value, str):
        return f"the string '{printable(value)}'" if len(value) <= 40 else f"a {len(value)}-character string"
    if isinstance(value, int | float):
        return f"{'the integer' if isinstance(value, int) else 'the number'} {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    return "a list" if isinstance(value, list | tuple) else type(value).__name__


def kind_of(value: Any) -> str:
    """A value's kind without its content ('a string', 'a list'), for text that may not be meant to be shown."""
    if isinstance(value, bool):
        return "true or false"
    if value is None:
        return "null (an empty value)"
    kinds = ((str, "a string"), (int, "an integer"), (float, "a number"), (Mapping, "a mapping"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "a list")


def walk_paths(value: Any, path: Loc = ()) -> Iterator[Loc]:
    """Every path inside a nested structure of dicts and lists, the root included."""
    yield path
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk_paths(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from walk_paths(item, (*path, i))
