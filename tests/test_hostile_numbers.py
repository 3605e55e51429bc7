"""Round 3, numbers: every number in a spec or on the command line is checked for finiteness and range where it is
read, and a RegNet design is held to the limits at the field a person wrote, before it is expanded."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torchvision

import netspec
from tests.measure import GiB, measured

Cli = Callable[..., tuple[int, str, str]]
LIMITS = "blocks, channels, groups, kernel, params, macs, memory"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", "resnet18", "--limit", "macs=inf"], "argument --limit: macs: 'inf' is not a finite number"),
        (["validate", "resnet18", "--limit", "macs=nan"], "argument --limit: macs: 'nan' is not a finite number"),
        (
            ["validate", "resnet18", "--limit", "params=1e400"],
            "argument --limit: params: '1e400' is not a finite number",
        ),
        (
            ["validate", "resnet18", "--limit", "params=-5"],
            "argument --limit: params: '-5' is not a whole number of at least 1",
        ),
        (
            ["validate", "resnet18", "--limit", "params=1.5"],
            "argument --limit: params: '1.5' is not a whole number of at least 1",
        ),
        (
            ["validate", "resnet18", "--limit", "params"],
            "argument --limit: expected NAME=VALUE, such as params=5e9, got 'params'",
        ),
        (
            ["validate", "resnet18", "--limit", "param=9"],
            f"argument --limit: unknown limit 'param'; did you mean 'params'?; limits: {LIMITS}",
        ),
        (["build", "resnet18", "--max-params", "nan"], "argument --max-params: 'nan' is not a finite number"),
        (["build", "resnet18", "--max-params", "inf"], "argument --max-params: 'inf' is not a finite number"),
        (["summary", "resnet18", "--input-size", "0"], "argument --input-size: must be at least 1, got 0"),
        (["summary", "resnet18", "--batch", "2.5"], "argument --batch: expected a whole number, got '2.5'"),
        (["bench", "resnet18", "--batch", "0"], "argument --batch: must be at least 1, got 0"),
        (["bench", "resnet18", "--batch", "1e9"], "argument --batch: expected a whole number, got '1e9'"),
        (["bench", "resnet18", "--warmup", "-1"], "argument --warmup: must be at least 0, got -1"),
        (["bench", "resnet18", "--threads", "0"], "argument --threads: must be at least 1, got 0"),
        (["train", "resnet18", "--nproc", "0"], "argument --nproc: must be at least 1, got 0"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_a_bad_number_on_the_command_line_is_a_one_line_usage_error(cli: Cli, argv: list[str], message: str) -> None:
    code, out, err = cli(*argv)
    command = f"netspec {argv[0]}"
    assert (code, out, err) == (2, "", f"{command}: {message} (see {command} --help)\n")


@pytest.mark.parametrize("value", [math.nan, math.inf, -1, 0, 2.5, True, None])
def test_limits_in_python_are_whole_numbers(value: object) -> None:
    with pytest.raises(
        netspec.NetspecError, match=rf"^Limits.params must be a whole number of at least 1, got {value!r}$"
    ):
        netspec.Limits(params=value)  # type: ignore[arg-type]


def _torchvision_width(wa: float, stage: int) -> int:
    """Stage `stage`'s width in torchvision's expansion of RegNetX-400MF's design with slope `wa`: the reference."""
    from torchvision.models.regnet import BlockParams

    return int(BlockParams.from_init_params(depth=22, w_0=24, w_a=wa, w_m=2.54, group_width=16).widths[stage])


WIDE = _torchvision_width(1e6, 1)


@pytest.mark.parametrize(
    ("design", "where", "message"),
    [
        (
            "depth: 1000000000",
            "6:17",
            "regnet.depth: 1,000,000,000 blocks in all exceeds the limit of 10,000; raise it "
            "with --limit blocks=1000000000",
        ),
        (
            "depth: 100000",
            "6:17",
            "regnet.depth: 100,000 blocks in all exceeds the limit of 10,000; raise it with --limit blocks=100000",
        ),
        ("wa: 1.0e+308", "6:14", "regnet.wa: the widths grow past 10^15 channels by block 22"),
        (
            "wa: 1.0e+6",
            "6:14",
            f"regnet.wa: gives stage 1 {WIDE:,} channels, over the limit of 65,536; raise it with "
            f"--limit channels={WIDE}",
        ),
        (
            "bottleneck_ratio: 1.0e-300",
            "6:28",
            "regnet.bottleneck_ratio: gives stage 0's blocks an inner width of 2.4e-299 channels",
        ),
        (
            "bottleneck_ratio: 1.0e+300",
            "6:28",
            "regnet.bottleneck_ratio: gives stage 0's blocks an inner width of 2.4e+301 channels",
        ),
        ("wm: .inf", "6:14", "regnet.wm: must be a finite number, got the number inf"),
        ("wm: .nan", "6:14", "regnet.wm: must be a finite number, got the number nan"),
    ],
    ids=["depth-1e9", "depth-1e5", "wa-1e308", "wa-1e6", "ratio-1e-300", "ratio-1e300", "wm-inf", "wm-nan"],
)
def test_a_regnet_design_is_held_to_the_limits_at_the_field_written(
    tmp_path: Path, design: str, where: str, message: str
) -> None:
    spec = "netspec: 1\nname: mine\nextends: regnet_x_400mf\n# a RegNetX-400MF with one design\n# parameter changed\n"
    (tmp_path / "mine.yaml").write_text(spec + f"regnet: {{{design}}}\n")
    run = measured(["validate", "mine.yaml"], tmp_path, timeout=60)  # depth 1e9 was a hang: it is killed at 60 s
    assert (run.code, run.err) == (1, f"mine.yaml:{where}: {message}\n")
    assert run.peak < GiB, run


def test_a_limit_of_a_regnets_expanded_stages_is_placed_at_its_design(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "mine.yaml").write_text("netspec: 1\nextends: regnet_x_400mf\nregnet: {wa: 24.48}\n")
    code, _, err = cli("validate", str(tmp_path / "mine.yaml"), "--limit", "params=1000")
    where = f"{tmp_path / 'mine.yaml'}:3:14"
    params = sum(
        p.numel() for p in torchvision.models.regnet_x_400mf().parameters()
    )  # the reference's count  # not the base's line 2:1, where no stage was written either
    assert (code, err) == (
        1,
        f"{where}: regnet.wa: {params:,} parameters exceeds the limit of 1,000; raise it with "
        f"--limit params={params}\n",
    )


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("input.mean=[.nan, 0, 0]", "input.mean.0: must be a finite number, got the number nan"),
        ("input.std=[.inf, 1, 1]", "input.std.0: must be a finite number, got the number inf"),
        ("block.attn_ratio=.nan", "block.attn_ratio: must be a finite number, got the number nan"),
        ("block.options={dropout: .nan}", "block.options.dropout: must be a finite number, got the number nan"),
        ("head.dropout=-.inf", "head.dropout: must be a finite number, got the number -inf"),
    ],
)
def test_no_spec_number_is_nan_or_infinite(cli: Cli, assignment: str, message: str) -> None:
    code, _, err = cli("validate", "cifar/wrn16_8", "--set", assignment)
    assert (code, err) == (1, f"--set {assignment}: {message}\n")


def test_a_seed_torch_cannot_take_is_refused_where_it_is_written(cli: Cli) -> None:
    code, _, err = cli("train", "cifar/resnet20", "--seed", str(2**64))
    assert (code, err) == (1, f"--seed: seed: must be less than {2**32}, got the integer {2**64}\n")
