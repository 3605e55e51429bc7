"""Zero overhead, shown by counting rather than timing: a builtin network asks torch for exactly the operator
stream that torchvision's asks for (same aten ops, shapes, strides and dtypes, in the same order, forward,
backward and optimizer step) and makes no more Python calls per forward pass."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from tests.opcount import Op, eval_ops, python_calls, torchvision_pair, training_step_ops

pytestmark = pytest.mark.slow  # `make test-fast` leaves these out (docs/testing.md)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet152"])
@pytest.mark.parametrize("run", [training_step_ops, eval_ops], ids=["training_step", "eval"])
def test_same_operator_stream_as_torchvision(name: str, run: Callable[[torch.nn.Module], list[Op]]) -> None:
    model, reference = torchvision_pair(name)
    ours, theirs = run(model), run(reference)
    assert len(ours) == len(theirs)
    first_difference = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b), None)
    assert first_difference is None, (ours[first_difference], theirs[first_difference])


@pytest.mark.parametrize("name", ["resnet50", "resnet152"])
def test_no_more_python_calls_per_forward_than_torchvision(name: str) -> None:
    model, reference = torchvision_pair(name)
    assert python_calls(model) <= python_calls(reference)
