"""The smallest builtin of each layout: builtins that differ only in depths and widths run the same layers, so a
check of how layers are built, traced or exported (not of a network's exactness, which tests/test_zoo.py and
tests/test_zoo_diagrams.py hold for every builtin) needs one of them."""

from __future__ import annotations

from functools import cache

import netspec
from netspec.gate import admit
from netspec.sources import builtin_names
from netspec.spec import Spec

# Settings that change how many channels or blocks there are, not which layers or code paths a network has.
SIZES = {"drop_path", "zero_init_last", "width_per_group", "groups", "attn_ratio", "attn_divisor"}


def layout(spec: Spec) -> frozenset[tuple[object, ...]]:
    """What a spec's network is made of: its stem, head and every distinct block setting (grouped or not)."""
    parts: set[tuple[object, ...]] = {
        ("dims", spec.dims),
        ("stem", spec.stem.preset, len(spec.stem.layers()), spec.stem.pool_kind(), spec.stem_norm()),
        ("head", spec.head.pool, bool(spec.head.hidden), spec.final_norm()),
    }
    for block in spec.stage_blocks():
        settings = {k: str(v) for k, v in block.model_dump(exclude=SIZES).items()}
        parts.add(("block", block.groups > 1, *sorted(settings.items())))
    return frozenset(parts)


@cache
def representatives() -> list[str]:
    """One builtin per layout, the one with the fewest parameters, in builtin order."""
    chosen: dict[frozenset[tuple[object, ...]], tuple[int, str]] = {}
    for name in builtin_names():
        key, params = layout(netspec.load_spec(name)), admit(name).analysis.totals.params
        if key not in chosen or params < chosen[key][0]:
            chosen[key] = (params, name)
    names = {name for _, name in chosen.values()}
    return [name for name in builtin_names() if name in names]
