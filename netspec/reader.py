"""Untrusted YAML text to plain data with a mark for every key and value: safe, bounded, YAML 1.2 scalars.

- Only the standard YAML tags construct anything; any other tag (`!!python/object`, `!custom`) is refused.
- Scalars follow the YAML 1.2 core schema: `no`, `on` and `yes` stay strings, `010` is 10, `1e-3` is a float.
- A file over `max_bytes`, nesting deeper than `max_depth` or holding more than `max_nodes` values (aliases
  expanded) is refused as the parser reaches the place, before the rest is read (netspec.yaml12); so are
  alias cycles, duplicate keys, invalid UTF-8 and control characters, written or escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netspec.errors import Diagnostic, Mark, SpecError, unprintable
from netspec.files import read_input
from netspec.messages import Loc
from netspec.yaml12 import LimitError, ReadLimits, Yaml12Loader, dump

__all__ = ["Document", "ReadLimits", "dump", "read_document", "read_file", "read_value"]
STANDARD_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}
DEFAULTS = ReadLimits()


@dataclass
class Document:
    """A spec's raw data, where each key and value was written, and the files it was read from."""

    data: Any
    keys: dict[Loc, Mark] = field(default_factory=dict)
    values: dict[Loc, Mark] = field(default_factory=dict)
    files: tuple[Path, ...] = ()

    def locate(self, loc: Loc, at_key: bool = False) -> Mark:
        """The mark of `loc`, or of its nearest enclosing value when `loc` itself was not written."""
        if at_key and loc in self.keys:
            return self.keys[loc]
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.values:
                return self.values[loc[:end]]
        return Mark("<spec>")


def read_file(path: Path, source: str, limits: ReadLimits = DEFAULTS) -> Document:
    """read_document of a regular file, read only up to the size cap however large the file is."""
    doc = read_document(read_input(path, limits.max_bytes, source), source, limits)
    doc.files = (path.resolve(),)
    return doc


def read_document(raw: bytes, source: str, limits: ReadLimits = DEFAULTS) -> Document:
    """Parse one YAML document from untrusted bytes; raise SpecError with the place of any problem.
    An empty document (nothing but comments) has data None and no marks."""
    if len(raw) > limits.max_bytes:
        message = f"the file is larger than the limit of {limits.max_bytes:,} bytes"
        raise SpecError.at(Mark(source, 1, 1), "", message)
    return parse(_decode(raw, source), source, limits)


def read_value(text: str, source: str, limits: ReadLimits = DEFAULTS) -> Any:
    """One value written on the command line (`--set path=VALUE`), read as a file is: YAML 1.2, the same caps."""
    return read_document(text.encode(), source, limits).data


def parse(text: str, source: str, limits: ReadLimits) -> Document:
    try:
        loader = Yaml12Loader(text, limits)  # checks that the text is printable
    except yaml.YAMLError as exc:
        raise SpecError.at(_error_mark(exc, source, text), "", _yaml_message(exc)) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None)
        reader = _Reader(loader, source, limits.max_nodes)
        data = reader.construct(node, ())
    except yaml.YAMLError as exc:
        raise SpecError.at(_error_mark(exc, source, text), "", _yaml_message(exc)) from None
    finally:
        loader.dispose()
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
    if isinstance(exc, yaml.constructor.ConstructorError | LimitError):  # well-formed YAML that netspec refuses
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

    def _refuse(self, node: yaml.Node, path: Loc, message: str) -> SpecError:
        return SpecError.at(_mark(node, self.source), ".".join(map(str, path)), message)

    def construct(self, node: yaml.Node, path: Loc) -> Any:
        self._count += 1
        if self._count > self.max_nodes:
            raise self._refuse(
                node, path, f"the document expands to more than {self.max_nodes:,} values (an alias bomb?)"
            )
        self.doc.values[path] = _mark(node, self.source)
        if node.tag not in STANDARD_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise self._refuse(node, path, f"the tag {tag} is not allowed: specs are plain YAML")
        if isinstance(node, yaml.ScalarNode):
            self._check_text(node, path)
            return self.loader.construct_object(node, deep=True)
        if id(node) in self._open:
            raise self._refuse(node, path, "an alias refers to a node that contains it")
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.construct(item, (*path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self._mapping(node, path)
        finally:
            self._open.discard(id(node))

    def _check_text(self, node: yaml.ScalarNode, path: Loc) -> None:
        """Escapes such as "\\e[2J" must not smuggle terminal control sequences into names and messages."""
        bad = unprintable(str(node.value))
        if bad:
            raise self._refuse(node, path, f"control character {bad} is not allowed in text")

    def _mapping(self, node: yaml.MappingNode, path: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                self._check_text(key_node, path)
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
