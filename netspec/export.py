"""A built network as a deployable file: TorchScript, ONNX or safetensors weights. Returns bytes; no file I/O."""

from __future__ import annotations

import io
import warnings

import torch
from torch import nn

from netspec.errors import NetspecError
from netspec.spec import Spec
from netspec.weights import weights_bytes

FORMATS = ("torchscript", "onnx", "safetensors")


def export_bytes(model: nn.Module, fmt: str, input_shape: tuple[int, int, int], spec: Spec | None = None) -> bytes:
    """`model` in `fmt`. TorchScript is scripted (control flow kept), ONNX traced from one input of
    `input_shape` (C, H, W) with a dynamic batch axis, safetensors holds the state_dict and `spec` (a model file)."""
    model = model.eval()
    buffer = io.BytesIO()
    if fmt == "torchscript":
        with warnings.catch_warnings():  # torch.jit is deprecated in favour of torch.export; it still works
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.save(torch.jit.script(model), buffer)
    elif fmt == "onnx":
        _onnx(model, input_shape, buffer)
    elif fmt == "safetensors":
        return weights_bytes(model, ".safetensors", spec)
    else:
        raise NetspecError(f"unknown export format '{fmt}'; use {', '.join(FORMATS)}")
    return buffer.getvalue()


def _onnx(model: nn.Module, input_shape: tuple[int, int, int], buffer: io.BytesIO) -> None:
    try:
        import onnx  # noqa: F401  # the exporter needs it to serialise the graph
    except ImportError:
        raise NetspecError("ONNX export needs the onnx package: pip install onnx") from None
    example = torch.randn(1, *input_shape)
    # A backbone has one output per feature, named by its key (netspec.compiler.FeatureList); a classifier, one.
    outputs = [key for key in getattr(model, "keys", []) if key] or ["output"]
    axes = {name: {0: "batch"} for name in ["input", *outputs]}
    # The TorchScript-based exporter: the dynamo-based one needs onnxscript, and these models trace exactly.
    names = {"input_names": ["input"], "output_names": outputs, "dynamic_axes": axes}
    # A file object works (torch.onnx's docs say so; its type hints do not).
    torch.onnx.export(model, (example,), buffer, dynamo=False, **names)  # type: ignore[arg-type]
