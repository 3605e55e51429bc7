"""Untrusted YAML text to plain data with a mark for every key and value: safe, bounded, YAML 1.2 scalars.

- Only the standard YAML tags construct anything; any other tag (`!!python/object`, `!custom`) is refused.
- Scalars follow the YAML 1.2 core schema: `no`, `on` and `yes` stay strings, `010` is 10, `1e-3` is a float.
- A file over `max_bytes`, nesting deeper than `max_depth` (checked on the event stream, before anything is
  built) or aliases expanding to more than `max_nodes` nodes is refused; so are alias cycles, duplicate keys,
  invalid UTF-8 and control characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netspec.errors import Diagnostic, Mark, SpecError
from netspec.messages import Loc

STANDARD_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}
MAX_INT_DIGITS = 20


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what reading one spec file may cost."""

    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_nodes: int = 10_000  # values after alias expansion; a large spec has a few hundred


@dataclass
class Document:
    """A spec's raw data and where each key and value was written."""

    data: dict[str, Any]
    keys: dict[Loc, Mark] = field(default_factory=dict)
    values: dict[Loc, Mark] = field(default_factory=dict)

    def locate(self, loc: Loc, at_key: bool = False) -> Mark:
        """The mark of `loc`, or of its nearest enclosing value when `loc` itself was not written."""
        if at_key and loc in self.keys:
            return self.keys[loc]
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.values:
                return self.values[loc[:end]]
        return Mark("<spec>")


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema's implicit scalars instead of YAML 1.1's."""

    # A fresh table: add_implicit_resolver would otherwise extend the one SafeLoader shares with yaml.safe_load.
    yaml_implicit_resolvers = {}  # noqa: RUF012


def _resolver(tag: str, pattern: str, first: str) -> None:
    Yaml12Loader.add_implicit_resolver(f"tag:yaml.org,2002:{tag}", re.compile(pattern, re.X), list(first))


_resolver("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
_resolver("null", r"^(?:~|null|Null|NULL|)$", "~nN\0")
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), None)
_resolver("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789")
_resolver(
    "float",
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    "-+0123456789.",
)


def _int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(node.value)
    if len(text.lstrip("+-")) > MAX_INT_DIGITS:
        message = f"an integer of {len(text.lstrip('+-'))} digits is too large"
        raise yaml.constructor.ConstructorError(None, None, message, node.start_mark)
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


def _float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(node.value).lower().replace(".inf", "inf").replace(".nan", "nan")
    return float(text)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _float)


def read_file(path: Path, source: str, limits: ReadLimits = ReadLimits()) -> Document:
    """read_document of a file, read only up to the size cap however large the file is."""
    with path.open("rb") as handle:
        return read_document(handle.read(limits.max_bytes + 1), source, limits)


def read_document(raw: bytes, source: str, limits: ReadLimits = ReadLimits()) -> Document:
    """Parse one YAML document from untrusted bytes; raise SpecError with the place of any problem."""
    if len(raw) > limits.max_bytes:
        message = f"the file is larger than the limit of {limits.max_bytes:,} bytes"
        raise SpecError.at(Mark(source, 1, 1), "", message)
    text = _decode(raw, source)
    try:
        _check_depth(text, source, limits.max_depth)
        loader = Yaml12Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise SpecError.at(
                    Mark(source, 1, 1), "", "empty document; a spec needs at least 'netspec: 1' and stages"
                )
            reader = _Reader(loader, source, limits.max_nodes)
            data = reader.construct(node, ())
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise SpecError.at(_error_mark(exc, source, text), "", _yaml_message(exc)) from None
    reader.doc.data = data
    if reader.problems:
        raise SpecError(reader.problems)
    return reader.doc


def _decode(raw: bytes, source: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = raw.count(b"\n", 0, exc.start) + 1, exc.start - raw.rfind(b"\n", 0, exc.start)
        message = f"not UTF-8 text: invalid byte 0x{raw[exc.start]:02x}"
        raise SpecError.at(Mark(source, line, col), "", message) from None
    return text.removeprefix("\ufeff")


def _check_depth(text: str, source: str, max_depth: int) -> None:
    """Refuse deep nesting from the event stream, before any node is composed (composing recurses).

    libyaml streams events fast where PyYAML's scanner slows down on deep flow nesting; syntax errors are
    left to the full parse, whose messages do not depend on libyaml being installed."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", Yaml12Loader)):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    start = event.start_mark
                    mark = Mark(source, start.line + 1, start.column + 1) if start else Mark(source, 1, 1)
                    raise SpecError.at(mark, "", f"nesting deeper than {max_depth} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return


def _error_mark(exc: yaml.YAMLError, source: str, text: str) -> Mark:
    if isinstance(exc, yaml.reader.ReaderError):  # a position in characters, not a mark
        line = text.count("\n", 0, exc.position) + 1
        return Mark(source, line, exc.position - text.rfind("\n", 0, exc.position))
    where = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return Mark(source, where.line + 1, where.column + 1) if where else Mark(source, 1, 1)


def _yaml_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        return f"not a text file: character #x{exc.character:04x} is not allowed in YAML"
    if isinstance(exc, yaml.composer.ComposerError) and exc.problem == "but found another document":
        return "a spec file holds one YAML document; found a second one"
    if isinstance(exc, yaml.constructor.ConstructorError) and exc.problem and "constructor for the tag" in exc.problem:
        tag = exc.problem.split("'")[1].replace("tag:yaml.org,2002:", "!!")
        return f"the tag {tag} is not allowed: specs are plain YAML"
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
    if isinstance(exc, yaml.constructor.ConstructorError):  # well-formed YAML holding a value netspec refuses
        return str(problem)
    return f"invalid YAML: {problem}"


def _mark(node: yaml.Node, source: str) -> Mark:
    return Mark(source, node.start_mark.line + 1, node.start_mark.column + 1)


class _Reader:
    """Turns a composed node tree into plain data, counting every node an alias expands to."""

    def __init__(self, loader: yaml.SafeLoader, source: str, max_nodes: int) -> None:
        self.loader, self.source, self.max_nodes = loader, source, max_nodes
        self.doc = Document({})
        self.problems: list[Diagnostic] = []
        self._open: set[int] = set()  # ids of the collections being read: an alias back to one is a cycle
        self._count = 0

    def construct(self, node: yaml.Node, path: Loc) -> Any:
        self._count += 1
        if self._count > self.max_nodes:
            message = f"the document expands to more than {self.max_nodes:,} values (an alias bomb?)"
            raise SpecError.at(_mark(node, self.source), ".".join(map(str, path)), message)
        self.doc.values[path] = _mark(node, self.source)
        if node.tag not in STANDARD_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise SpecError.at(
                _mark(node, self.source),
                ".".join(map(str, path)),
                f"the tag {tag} is not allowed: specs are plain YAML",
            )
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node, deep=True)
        if id(node) in self._open:
            raise SpecError.at(
                _mark(node, self.source), ".".join(map(str, path)), "an alias refers to a node that contains it"
            )
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.construct(item, (*path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self._mapping(node, path)
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "<complex key>"
            if key in result:
                first = self.doc.keys[(*path, key)]
                message = f"duplicate key '{key}' (first set on line {first.line})"
                self.problems.append(
                    Diagnostic(_mark(key_node, self.source), ".".join(map(str, (*path, key))), message)
                )
                continue
            self.doc.keys[(*path, key)] = _mark(key_node, self.source)
            result[key] = self.construct(value_node, (*path, key))
        return result
