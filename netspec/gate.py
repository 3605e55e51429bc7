"""The one gate between a spec and anything that costs: load, validate, hold to the limits. No torch.

Every entry point passes through `admit`, whatever it was given (a spec file, a builtin name or a Spec
object, with `--set` and keyword overrides): the command-line commands, `netspec.build`, `netspec.train`
and `netspec.diagram`. The limits on the sizes written in the spec are checked first, because they bound
the static analysis that measures the rest; nothing is allocated for a spec that does not pass.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netspec.analysis import Analysis, analyze
from netspec.checks import plan_problems
from netspec.errors import SpecError
from netspec.families.regnet import written_field
from netspec.limits import Limits, channel_problems, cost_problems, field_problems
from netspec.loader import load
from netspec.messages import problem_at
from netspec.network import NetworkPlan, PlanProblems, plan_network
from netspec.spec import Spec


@dataclass(frozen=True)
class Admitted:
    """A spec that passed the gate, its analysis, and every file read for it (the spec and its extends
    chain), which no output may replace."""

    spec: Spec
    analysis: Analysis
    files: tuple[Path, ...]

    @property
    def plan(self) -> NetworkPlan:
        """The network's one plan, which the analysis read and the compiler builds."""
        return self.analysis.plan


def admit(
    source: Spec | str | os.PathLike[str],
    limits: Limits | None = None,
    sets: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    size: int | tuple[int, ...] | None = None,
) -> Admitted:
    """Load `source` and hold it to `limits` (default Limits()); problems raise SpecError at the field's
    place in the file: field limits first (they bound the plan), then the blocks that cannot be planned and the
    plan's own rules, then the costs the analysis measures. The network is planned here, once."""
    limits = limits or Limits()
    loaded = load(source, sets, overrides, limits)
    found = field_problems(loaded.spec, limits)
    if not found:
        try:
            net = plan_network(loaded.spec)  # the one plan of this network, which everything after it reads
        except PlanProblems as problems:
            found = problems.problems
        else:
            found = plan_problems(net) + channel_problems(net, limits)
    if not found:
        analysis = analyze(net, size)
        found = cost_problems(analysis, limits)
    if found:
        # A RegNet's stages were not written: a problem at one of them is placed at the design's field.
        designed = isinstance(loaded.doc.data, dict) and isinstance(loaded.doc.data.get("regnet"), dict)
        placed = [(written_field(path) if designed else path, message) for path, message in found]
        raise SpecError(problem_at(path, message, loaded.doc.locate) for path, message in placed)
    return Admitted(loaded.spec, analysis, loaded.files)
