"""The layers of the code, read off its imports: no cycle, the library never depends on its command line, nothing
imports the package root, and the package root only re-exports netspec.api."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "netspec"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(path): path for path in PACKAGE.rglob("*.py")}


def _type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _imported(tree: ast.AST) -> set[str]:
    """The netspec modules `tree` imports when it runs, at the top or inside a function (not for type checking):
    `from netspec import reader` names the submodule netspec.reader, `from netspec import build` the root."""
    found: set[str] = set()
    pending = list(ast.iter_child_nodes(tree))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _type_checking(node):
            pending += node.orelse
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "netspec":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "netspec"}
        pending += ast.iter_child_nodes(node)
    return found


GRAPH = {name: _imported(ast.parse(path.read_text())) - {name} for name, path in MODULES.items()}


def _cycle() -> list[str]:
    """One import cycle, as the modules along it, or [] when there is none (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(module: str) -> list[str]:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[module] = 2
        path.pop()
        return []

    for module in sorted(GRAPH):
        if module not in state and (found := visit(module)):
            return found
    return []


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycle() == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    GRAPH["netspec.places"] = GRAPH["netspec.places"] | {"netspec.gate"}
    try:
        cycle = _cycle()
    finally:
        GRAPH["netspec.places"] -= {"netspec.gate"}
    assert cycle[0] == cycle[-1] and "netspec.places" in cycle and "netspec.gate" in cycle


def _is_cli(module: str) -> bool:
    return module.split(".")[-1].startswith("cli") or module == "netspec.__main__"


def test_the_library_never_imports_the_command_line() -> None:
    assert {m: sorted(filter(_is_cli, GRAPH[m])) for m in GRAPH if not _is_cli(m) and any(map(_is_cli, GRAPH[m]))} == {}


def test_nothing_imports_the_package_root() -> None:
    assert sorted(m for m, imported in GRAPH.items() if "netspec" in imported) == []


def test_the_package_root_only_re_exports() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    kinds = {type(node).__name__ for node in tree.body[1:]}  # after the docstring
    assert kinds == {"ImportFrom", "Assign"}
    exported = [
        alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom) for alias in node.names
    ]
    assert all(node.targets[0].id == "__all__" for node in tree.body if isinstance(node, ast.Assign))  # type: ignore[attr-defined]
    import netspec
    import netspec.api

    assert sorted(netspec.__all__) == sorted(exported)
    public = [name for name in vars(netspec.api) if not name.startswith("_") and callable(getattr(netspec.api, name))]
    functions = [n for n in public if getattr(getattr(netspec.api, n), "__module__", "") == "netspec.api"]
    assert set(functions) <= set(exported)


def test_a_plans_arguments_default_as_the_spec_does() -> None:
    # Block settings reach plans by name (netspec.network.passed); a BlockArgs made by hand (a registered type's
    # sample block) takes the spec's defaults, so the two cannot drift apart.
    from dataclasses import fields

    from netspec.plan import BlockArgs
    from netspec.spec import BlockSettings

    shared = [f for f in fields(BlockArgs) if f.name in BlockSettings.model_fields and f.name != "options"]
    assert len(shared) >= 9
    assert {f.name: f.default for f in shared} == {f.name: BlockSettings.model_fields[f.name].default for f in shared}
