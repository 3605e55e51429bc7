"""The residual block of Wang, Yan & Oates 2017 ("Time Series Classification from Scratch with Deep Neural
Networks"), planned: three convs of one width, a norm after each and an activation after the first two; the
shortcut a 1x1 conv and norm where the shape changes, else a norm alone; the activation after the add. No torch.

Laid out as tsai's ResBlock (convblock1.0 the conv, convblock1.1 its norm, ..., shortcut), the PyTorch code most
people train it with. The paper's kernels are 8, 5 and 3 with 'same' padding (Keras'); tsai's are 7, 5 and 3.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from netspec.plan import BlockArgs, BlockPlan, Op, act, conv, norm, same_if_even, strides

Kernel = Annotated[int, Field(ge=1)] | Annotated[tuple[Annotated[int, Field(ge=1)], ...], Field(strict=False)]


class TimeSeriesOptions(BaseModel):
    """Settings only tsc blocks have."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    kernels: tuple[Kernel, Kernel, Kernel] = Field(
        (8, 5, 3),
        strict=False,
        description="the three convs' kernels, each one number or one per axis (Wang et al.: 8, 5, 3; tsai: 7, 5, 3); "
        "an even kernel pads 'same', one less before than after",
    )


def tsc(a: BlockArgs) -> BlockPlan:
    """convblock1..3 (conv, norm, activation; the last without), the shortcut, the add, the activation."""
    kernels = a.options.kernels if isinstance(a.options, TimeSeriesOptions) else TimeSeriesOptions().kernels
    s, w, ins, ops = a.style, a.width, a.in_channels, list[Op]()
    for i, kernel in enumerate(kernels):
        stride = a.stride if i == 0 else 1
        layers = [
            conv("0", ins, w, kernel, stride, s, padding=same_if_even(kernel, stride, a.dims, "options")),
            norm("1", w, s),
        ]
        layers += [act("2", w, s.act)] if i < 2 else []
        ops.append(Op(f"convblock{i + 1}", "sequential", ins, w, children=tuple(layers)))
        ins = w
    if strides(a.stride) or a.in_channels != w:
        project = (conv("0", a.in_channels, w, 1, a.stride, s), norm("1", w, s))
        ops.append(Op("shortcut", "sequential", a.in_channels, w, source="input", children=project))
    else:  # the paper's third block: channels do not change, and the shortcut is normalised all the same
        ops.append(norm("shortcut", w, s, source="input"))
    ops += [Op("add", "add", w, w, inplace=False, source="convblock3"), act("act", w, s.act)]
    return BlockPlan(tuple(ops), w, "convblock3.1")
