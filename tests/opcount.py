"""A builtin network beside its torchvision reference, and counting what a model asks of torch, for tests and
benchmarks: the aten operator stream of a training step or an eval forward pass, and the Python calls of a
forward pass. Unlike timings, these counts repeat exactly."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import torch
import torchvision
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import netspec

Op = tuple[str, tuple[object, ...]]
_PLAIN = (torch.Tensor, int, float, bool, str, type(None), torch.dtype, torch.device, torch.memory_format)


class _Record(TorchDispatchMode):
    """Records every aten call with its tensors' shapes, strides and dtypes and its plain arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[Op] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        flat, _ = tree_flatten((args, kwargs))
        sig = tuple(
            (tuple(a.shape), a.stride(), a.dtype) if isinstance(a, torch.Tensor) else a
            for a in flat
            if isinstance(a, _PLAIN)  # the optimizer's profiler handles are opaque objects
        )
        self.ops.append((str(func), sig))
        return func(*args, **kwargs)


def torchvision_pair(name: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """netspec's builtin `name` and torchvision's model of that name, with the same random weights."""
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)()
    model = netspec.build(name)
    model.load_state_dict(reference.state_dict())
    return model, reference


def training_step_ops(model: torch.nn.Module) -> list[Op]:
    torch.manual_seed(1)
    x, y = torch.randn(2, 3, 64, 64), torch.randint(0, 1000, (2,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with _Record() as record:
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return record.ops


def eval_ops(model: torch.nn.Module) -> list[Op]:
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad(), _Record() as record:
        model.eval()(x)
    return record.ops


def python_calls(model: torch.nn.Module) -> int:
    calls = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal calls
        calls += event == "call"

    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        model.eval()(x)  # warm: first calls may import or cache
        sys.setprofile(profile)
        try:
            model(x)
        finally:
            sys.setprofile(None)
    return calls
