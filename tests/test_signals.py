"""1-D networks for signals and time series against references written from their papers: the ResNet of Wang,
Yan & Oates 2017 (tests/references/wang_tsc.py, in tsai's layout) as the builtin signal/wang_resnet and as tsai
lays it out (kernels 7, 5, 3).

Expected figures come from the references (their parameters, outputs and FlopCounterMode's count), never from
netspec's own output.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.gate import admit
from tests.parity import assert_same, count
from tests.references.preact_he2016 import PreActResNet
from tests.references.wang_tsc import WangResNet

pytestmark = pytest.mark.slow  # `make test-fast` leaves these out (docs/testing.md)


@pytest.mark.parametrize("kernels", [(8, 5, 3), (7, 5, 3)], ids=["paper", "tsai"])
def test_wangs_resnet_is_the_papers(kernels: tuple[int, int, int]) -> None:
    """Its weights load strictly through load_weights from the reference's (tsai's) names; float64 outputs equal
    on a series whose length the even kernel's 'same' padding must keep; FlopCounterMode's MACs at 150 steps."""
    reference = WangResNet(1, 2, kernels)
    model = netspec.build("signal/wang_resnet", block={"options": {"kernels": list(kernels)}})
    assert_same(model, reference, torch.randn(3, 1, 67))
    with FlopCounterMode(display=False) as counter:
        reference.float()(torch.zeros(1, 1, 150))
    overrides = {"block": {"options": {"kernels": list(kernels)}}}
    totals = admit("signal/wang_resnet", overrides=overrides).analysis.totals
    assert (totals.params, totals.macs) == (count(reference), counter.get_total_flops() // 2)


def test_tsais_own_resnet_loads_and_runs_alike() -> None:
    """tsai's ResNet (tsai.models.ResNet, kernels 7, 5, 3), the time-series library most people train it with: its
    state_dict loads strictly through load_weights (resblockN renamed), float64 outputs equal, the same MACs."""
    from tsai.models.ResNet import ResNet

    reference = ResNet(3, 5)  # three channels and five classes: other than the builtin's, so both are set
    overrides = {"input": {"channels": 3}, "head": {"classes": 5}, "block": {"options": {"kernels": [7, 5, 3]}}}
    model = netspec.build("signal/wang_resnet", **overrides)
    assert_same(model, reference, torch.randn(2, 3, 67))
    with FlopCounterMode(display=False) as counter:
        reference.float()(torch.zeros(1, 3, 150))
    assert admit("signal/wang_resnet", overrides=overrides).analysis.totals.macs == counter.get_total_flops() // 2


@pytest.mark.parametrize("depth", [18, 34])
def test_a_preact_resnet_for_signals_is_he_2016s(depth: int) -> None:
    """signal/preact_resnetN against a module written from He et al. 2016 (tests/references/preact_he2016.py),
    which in 2-D is timm's resnetv2_N: timm's weights, carried over, give timm's outputs. In 1-D: the same
    parameters, the reference's weights load strictly, float64 outputs equal, FlopCounterMode's MACs."""
    import timm

    depths = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}[depth]
    theirs = timm.create_model(f"resnetv2_{depth}").eval()
    images = netspec.build(f"signal/preact_resnet{depth}", dims=2, input={"channels": 3}, head={"classes": 1000})
    netspec.load_weights(images, theirs.state_dict())
    flat = PreActResNet(2, depths, 3, 1000).eval()
    flat.load_state_dict(images.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(flat(x), theirs(x))
    reference, model = PreActResNet(1, depths, 12, 5), netspec.build(f"signal/preact_resnet{depth}")
    assert_same(model, reference, torch.randn(2, 12, 997))  # no stride divides 997
    with FlopCounterMode(display=False) as counter:
        reference.float()(torch.zeros(1, 12, 1000))
    assert admit(f"signal/preact_resnet{depth}").analysis.totals.macs == counter.get_total_flops() // 2
