"""YAML spec files to validated Specs: `extends`, `--set` and errors at file:line:col."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from netspec import modelfile, reader, sources
from netspec.errors import Mark, SpecError, closest, did_you_mean
from netspec.messages import Loc, describe, diagnostics, kind_of, loc_of, walk_paths
from netspec.reader import Document
from netspec.spec import Spec

NOT_INHERITED = ("name", "description")  # they describe one file, not the network it extends
MAX_EXTENDS = 32  # files in one extends chain; each reads up to 1 MiB, and a chain is read recursively


@dataclass(frozen=True)
class Loaded:
    """A validated spec and the document it came from, to place later problems (such as limits) in the file."""

    spec: Spec
    doc: Document

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file read for the spec: itself and each file of its extends chain."""
        return self.doc.files


def load(
    source: Spec | str | os.PathLike[str],
    sets: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    limits: Any = None,
) -> Loaded:
    """Load, merge and validate a Spec, spec file or builtin name; raise SpecError listing every problem. `limits`
    (netspec.limits.Limits; default its defaults) bound what validation itself expands: a RegNet design."""
    if isinstance(source, Spec):
        doc = Document(source.model_dump(exclude_unset=True), values={(): Mark("<spec>")})
        if not (sets or overrides):
            return Loaded(source, doc)
    else:
        doc = load_document(source)
    if overrides:
        doc = merge(doc, _from_mapping(dict(overrides), Mark("keyword overrides")))
    for assignment in sets:
        apply_set(doc, assignment)
    return Loaded(validate(doc, limits), doc)


def load_spec(
    ref: str | os.PathLike[str], sets: Sequence[str] = (), overrides: Mapping[str, Any] | None = None
) -> Spec:
    """Load, merge and validate a spec file or builtin name; raise SpecError listing every problem."""
    return load(ref, sets, overrides).spec


def validate(doc: Document, limits: Any = None) -> Spec:
    try:
        return Spec.model_validate(doc.data, context={"limits": limits})
    except ValidationError as exc:
        raise SpecError(diagnostics(exc, Spec, doc.locate)) from None


def load_document(ref: str | os.PathLike[str], _chain: tuple[Path, ...] = (), _mark: Mark | None = None) -> Document:
    """Read a spec file and everything it `extends`, deep-merged (lists replace whole)."""
    path = sources.resolve(ref, _chain[-1].parent if _chain else None, _mark)
    source = sources.display(path)
    read = modelfile.read_spec if modelfile.is_model_file(path) else reader.read_file
    doc = check_document(read(path, source), source)
    own = {k: doc.data[k] for k in NOT_INHERITED if k in doc.data}
    own.setdefault("name", path.stem)
    base_ref = doc.data.pop("extends", None)
    if base_ref is not None:
        doc = _extend(doc, base_ref, (*_chain, path.resolve()))
    for key in NOT_INHERITED:
        doc.data.pop(key, None)
    doc.data.update(own)
    return doc


def _extend(doc: Document, base_ref: Any, chain: tuple[Path, ...]) -> Document:
    mark = doc.values.pop(("extends",))
    doc.keys.pop(("extends",))
    if not isinstance(base_ref, str):
        raise SpecError.at(
            mark, "extends", f"expected a builtin spec name or a relative path, got {describe(base_ref)}"
        )
    if len(chain) >= MAX_EXTENDS:
        raise SpecError.at(mark, "extends", f"an extends chain may hold at most {MAX_EXTENDS} files")
    base_path = _base_path(base_ref, chain[-1].parent, mark)
    if base_path in chain:
        cycle = " -> ".join(sources.display(p) for p in (*chain[chain.index(base_path) :], base_path))
        raise SpecError.at(mark, "extends", f"extends cycle: {cycle}")
    base = load_document(base_path, chain, mark)
    return merge(base, doc)


def _base_path(ref: str, folder: Path, mark: Mark) -> Path:
    """The file `extends: ref` names: a builtin spec, or a .yaml or .yml file (a link too, if it leads to one)
    relative to the extending file. A shared spec must not make netspec open anything else (.env, a key, a model
    file): other names are refused before any file is opened, so that no refused file's content is ever shown."""
    if ref.endswith(sources.SUFFIXES) and not os.path.isabs(ref):
        real = sources.resolve(ref, folder, mark).resolve()
        if not real.name.endswith(sources.SUFFIXES):
            raise SpecError.at(mark, "extends", f"'{ref}' leads to {real.name}, which is not a .yaml or .yml file")
        return real
    if ref in sources.builtin_names():
        return (sources.builtin_dir() / f"{ref}.yaml").resolve()
    hint = did_you_mean(ref, sources.builtin_names())
    message = f"'{ref}' must be a builtin spec name or a relative path to a .yaml or .yml file{hint}"
    raise SpecError.at(mark, "extends", message)


def check_document(doc: Document, source: str) -> Document:
    """A spec file's document (safe, bounded YAML from netspec.reader) must be a mapping with a version."""
    if doc.data is None and not doc.values:
        raise SpecError.at(Mark(source, 1, 1), "", "empty document; a spec needs at least 'netspec: 1' and stages")
    if not isinstance(doc.data, dict):  # named by its kind only: the file may not be a spec at all (.env)
        message = f"a spec must be a mapping of fields (netspec, name, stages, ...), got {kind_of(doc.data)}"
        raise SpecError.at(doc.values[()], "", message)
    if "netspec" not in doc.data and closest("netspec", list(doc.data)) is None:
        raise SpecError.at(doc.values[()], "netspec", "missing format version: add 'netspec: 1' as the first line")
    return doc


def merge(base: Document, over: Document) -> Document:
    """`over` deep-merged onto `base`: mappings merge key by key, anything else replaces whole."""
    data = _deep_merge(base.data, over.data)
    replaced = {loc for loc in over.values if loc and not isinstance(_get(over.data, loc), dict)}

    def kept(loc: Loc) -> bool:
        return not any(loc[:end] in replaced for end in range(1, len(loc) + 1))

    keys = {loc: m for loc, m in base.keys.items() if kept(loc)} | over.keys
    values = {loc: m for loc, m in base.values.items() if kept(loc)} | over.values
    return Document(data, keys, values, over.files + base.files)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _deep_merge(out[key], value) if both else value
    return out


def _get(data: Any, loc: Loc) -> Any:
    for part in loc:
        data = data[part]
    return data


def _from_mapping(data: dict[str, Any], mark: Mark) -> Document:
    paths = list(walk_paths(data))
    return Document(data, dict.fromkeys(paths, mark), dict.fromkeys(paths, mark))


def apply_set(doc: Document, assignment: str) -> None:
    """Apply one `--set dotted.path=value` to the raw data, in place; the value is read as a spec file's values
    are (YAML 1.2, the same caps), so that `--set depth=010` and `depth: 010` in a file mean the same."""
    mark = Mark(f"--set {_shortened(assignment)}")
    dotted, eq, text = assignment.partition("=")
    if not eq or not dotted:
        raise SpecError.at(mark, "", "expected dotted.path=value, for example stages.2.depth=23")
    try:
        value = reader.read_value(text, mark.source)
    except SpecError as exc:
        problem = exc.diagnostics[0].message.removeprefix("invalid YAML: ")
        raise SpecError.at(mark, dotted, f"the value '{_shortened(text)}' is not valid: {problem}") from None
    loc = loc_of(dotted)
    container, key = _container_for(doc.data, loc, mark)
    container[key] = value
    fresh = set(walk_paths(value, loc))
    for stale in [k for k in doc.values if k[: len(loc)] == loc and k not in fresh]:
        doc.values.pop(stale)
        doc.keys.pop(stale, None)
    for inner in fresh:
        doc.keys[inner] = doc.values[inner] = mark


def _shortened(text: str, keep: int = 40) -> str:
    """Command-line text as messages show it: a long value is cut, so that an error stays one readable line."""
    return text if len(text) <= keep else f"{text[: keep - 3]}..."


def _container_for(data: dict[str, Any], loc: Loc, mark: Mark) -> tuple[Any, str | int]:
    """The dict or list that holds `loc`'s last part, and its key; missing mappings on the way are created."""
    container: Any = data
    for depth, part in enumerate(loc):
        where = ".".join(map(str, loc[: depth + 1]))
        if isinstance(container, list):
            if not isinstance(part, int):
                raise SpecError.at(mark, where, f"{_parent(loc, depth)} is a list: use an index, not '{part}'")
            if part >= len(container):
                count = f"{len(container)} item{'s' if len(container) != 1 else ''}"
                raise SpecError.at(mark, where, f"index {part} is out of range: {_parent(loc, depth)} has {count}")
        elif isinstance(container, dict):
            if isinstance(part, int):
                part = str(part)
            if depth < len(loc) - 1 and part not in container:
                container[part] = {}
        else:
            raise SpecError.at(mark, where, f"{_parent(loc, depth)} is {describe(container)}, not a mapping or list")
        if depth == len(loc) - 1:
            return container, part
        container = container[part]
    raise AssertionError("unreachable: loc is never empty")


def _parent(loc: Loc, depth: int) -> str:
    return ".".join(map(str, loc[:depth])) or "the spec"
