"""How fast a network runs here, each way it can run: measured, never estimated.

Each path prepares the model once (scripting, exporting, compiling: not timed), runs `warmup` untimed calls,
then times `repeats` calls one by one on the same input. A row gives the median time per call, the 10th-90th
percentile spread and images/s at the median. Inference runs in eval mode under torch.inference_mode;
a training step is forward, cross-entropy, backward and an SGD step.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from netspec.bench_paths import INFERENCE, TRAINING
from netspec.errors import NetspecError

Step = Callable[[Tensor], object]


@dataclass(frozen=True)
class Timing:
    """One path at one batch size: seconds per call (median, 10th and 90th percentiles) over `repeats` calls."""

    path: str
    batch: int
    median: float
    low: float
    high: float
    repeats: int

    @property
    def images_per_s(self) -> float:
        return self.batch / self.median


def measure(step: Step, example: Tensor, warmup: int, repeats: int) -> tuple[float, float, float]:
    """(median, p10, p90) seconds of `step(example)` over `repeats` timed calls after `warmup` untimed ones."""
    for _ in range(warmup):
        step(example)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step(example)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times), times[len(times) // 10], times[-1 - len(times) // 10]


def inference_step(model: nn.Module, path: str, example: Tensor) -> Step:
    """A forward pass of `model` prepared as `path` says."""
    model = model.eval()
    if path == "eager":
        return _no_grad(model)
    if path == "optimized":
        from netspec.optimize import optimize_for_inference

        return _no_grad(optimize_for_inference(model))
    if path == "torchscript":  # TorchScript's own inference passes: freezing, conv-bn folding, oneDNN layouts
        with torch.no_grad():
            scripted = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model)))
        return _no_grad(scripted)
    if path == "onnxruntime":
        return _onnxruntime(model, example)
    if path == "compile":
        return _no_grad(torch.compile(model))
    raise NetspecError(f"unknown path '{path}'; choose from {', '.join(INFERENCE)}")


def training_step(model: nn.Module, path: str, classes: int) -> Step:
    """One SGD step of `model` on a batch, prepared as `path` says."""
    model = model.train()
    if path == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    run = torch.compile(model) if path == "compile" else model
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    dtype = torch.bfloat16 if path == "amp" else None

    def step(images: Tensor) -> object:
        if path == "channels_last":
            images = images.to(memory_format=torch.channels_last)
        labels = torch.arange(images.shape[0]) % max(classes, 1)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            loss = nn.functional.cross_entropy(run(images).float(), labels)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        return None

    if path not in TRAINING:
        raise NetspecError(f"unknown training path '{path}'; choose from {', '.join(TRAINING)}")
    return step


def _no_grad(module: Callable[[Tensor], Tensor]) -> Step:
    def step(images: Tensor) -> object:
        with torch.inference_mode():
            return module(images)

    return step


def _onnxruntime(model: nn.Module, example: Tensor) -> Step:
    """An ONNX Runtime session of the exported graph (its default, full graph optimizations), on torch's threads."""
    import onnxruntime

    from netspec.export import export_bytes

    graph = export_bytes(model, "onnx", tuple(example.shape[1:]))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def step(images: Tensor) -> object:
        return session.run(None, {name: images.numpy()})

    return step


def bench(
    build: Callable[[], nn.Module],
    paths: tuple[str, ...],
    batches: tuple[int, ...],
    shape: tuple[int, int, int],
    train: bool,
    classes: int,
    warmup: int = 3,
    repeats: int = 10,
) -> list[Timing]:
    """Timings of each path at each batch size, the model built afresh for each path by `build`."""
    rows = []
    for path in paths:
        for batch in batches:
            torch.manual_seed(0)
            example = torch.randn(batch, *shape)
            model = build()
            with warnings.catch_warnings():  # TorchScript's deprecation notes, the ONNX exporter's folding notes
                warnings.simplefilter("ignore")
                step = training_step(model, path, classes) if train else inference_step(model, path, example)
            median, low, high = measure(step, example, warmup, repeats)
            rows.append(Timing(path, batch, median, low, high, repeats))
    return rows
