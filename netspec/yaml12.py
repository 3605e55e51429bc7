"""PyYAML, configured for untrusted specs: YAML 1.2 core scalars, bounded composition, and the inverse dumper.

- `Yaml12Loader` is PyYAML's pure-Python safe loader (libyaml, where installed, is not used, so that no limit
  or message depends on it) with YAML 1.2's implicit scalars, a composer that builds nodes without recursion
  and refuses depth and size over `ReadLimits` as the parser reaches them, and a scanner whose simple-key
  bookkeeping costs O(1) per token instead of O(nesting depth).
- `dump` writes YAML that both YAML 1.1 and YAML 1.2 readers read back as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

MAX_INT_DIGITS = 20


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what reading one spec file may cost."""

    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_nodes: int = 10_000  # values after alias expansion; a large spec has a few hundred


class LimitError(yaml.MarkedYAMLError):
    """A document over one of the read limits; its problem is the whole message."""


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader with YAML 1.2 core scalars, bounded composition, and a scanner whose
    simple-key bookkeeping costs O(1) per token instead of O(nesting depth)."""

    # A fresh table: add_implicit_resolver would otherwise extend the one SafeLoader shares with yaml.safe_load.
    yaml_implicit_resolvers = {}  # noqa: RUF012

    def __init__(self, text: str, limits: ReadLimits) -> None:
        super().__init__(text)
        self.limits = limits

    # The scanner keeps one possible simple key per open flow level, inserted in the order of their positions;
    # keys go stale oldest first (a key is stale once the line changes or 1024 characters pass), so the oldest
    # is the nearest and the stale ones are a prefix. PyYAML scans them all for every token.
    def next_possible_simple_key(self) -> int | None:
        for key in self.possible_simple_keys.values():
            return int(key.token_number)
        return None

    def stale_possible_simple_keys(self) -> None:
        keys = self.possible_simple_keys
        while keys:
            level, key = next(iter(keys.items()))
            if key.line == self.line and self.index - key.index <= 1024:
                return
            if key.required:
                raise yaml.scanner.ScannerError(
                    "while scanning a simple key", key.mark, "could not find expected ':'", self.get_mark()
                )
            del keys[level]

    def compose_document(self) -> yaml.Node:
        """The document's root node, composed without recursion, refusing depth and size over the limits."""
        self._event()  # DOCUMENT-START
        root = self._compose()
        self._event()  # DOCUMENT-END
        self.anchors = {}
        return root

    def _event(self) -> Any:
        return self.get_event()  # type: ignore[no-untyped-call]

    def _compose(self) -> yaml.Node:
        open_nodes: list[yaml.CollectionNode] = []
        pending_keys: list[yaml.Node | None] = []  # per open mapping: its key waiting for a value
        values = 0  # nodes composed, less mapping keys: the count the alias-expanding reader applies its cap to
        while True:
            event = self._event()
            if isinstance(event, yaml.CollectionEndEvent):
                node: yaml.Node = open_nodes.pop()
                pending_keys.pop()
                node.end_mark = event.end_mark
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in self.anchors:
                    mark: Any = event.start_mark
                    raise yaml.composer.ComposerError(None, None, f"found undefined alias {event.anchor!r}", mark)
                node = self.anchors[event.anchor]
            else:
                is_key = (
                    bool(pending_keys) and isinstance(open_nodes[-1], yaml.MappingNode) and pending_keys[-1] is None
                )
                values += not is_key
                node = self._new_node(event, values, len(open_nodes))
                if isinstance(node, yaml.CollectionNode):
                    open_nodes.append(node)
                    pending_keys.append(None)
                    continue
            if not open_nodes:
                return node
            _attach(open_nodes[-1], pending_keys, node)

    def _new_node(self, event: Any, count: int, depth: int) -> yaml.Node:
        start, end = event.start_mark, event.end_mark
        if count > self.limits.max_nodes:
            message = f"the document holds more than {self.limits.max_nodes:,} values"
            raise LimitError(None, None, message, start)
        if event.anchor is not None and event.anchor in self.anchors:
            first = self.anchors[event.anchor].start_mark
            raise yaml.composer.ComposerError(
                f"found duplicate anchor {event.anchor!r}; first occurrence",
                first,
                "second occurrence",
                start,
            )
        node: yaml.Node
        tag = event.tag
        if isinstance(event, yaml.ScalarEvent):
            if tag is None or tag == "!":
                tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
            node = yaml.ScalarNode(tag, event.value, start, end, style=event.style)
        else:
            if depth + 1 > self.limits.max_depth:
                raise LimitError(None, None, f"nesting deeper than {self.limits.max_depth} levels", start)
            kind = yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) else yaml.MappingNode
            if tag is None or tag == "!":
                tag = self.resolve(kind, None, event.implicit)  # type: ignore[no-untyped-call]
            node = kind(tag, [], start, None, flow_style=event.flow_style)
        if event.anchor is not None:
            self.anchors[event.anchor] = node
        return node


def _attach(parent: yaml.CollectionNode, pending_keys: list[yaml.Node | None], node: yaml.Node) -> None:
    """Add a finished node to the collection being composed: an item, a mapping's key, or its value."""
    if isinstance(parent, yaml.SequenceNode):
        parent.value.append(node)
    elif pending_keys[-1] is None:
        pending_keys[-1] = node
    else:
        parent.value.append((pending_keys[-1], node))
        pending_keys[-1] = None


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


class _Dumper(yaml.SafeDumper):
    """Writes plain only the strings that neither YAML 1.1 nor YAML 1.2 would read as something else."""

    yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeDumper.yaml_implicit_resolvers.items()}  # noqa: RUF012


for _first, _resolvers in Yaml12Loader.yaml_implicit_resolvers.items():
    _Dumper.yaml_implicit_resolvers.setdefault(_first, []).extend(_resolvers)


def dump(data: Any) -> str:
    """YAML text that netspec's reader, and any YAML 1.1 reader, read back as `data`."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


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
