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


def export_bytes(model: nn.Module, fmt: str, input_shape: tuple[int, ...], spec: Spec | None = None) -> bytes:
    """`model` in `fmt`. TorchScript is scripted (control flow kept), ONNX traced from one input of
    `input_shape` (C, *spatial) with a dynamic batch axis, safetensors holds the state_dict and `spec` (a model
    file)."""
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


def _onnx(model: nn.Module, input_shape: tuple[int, ...], buffer: io.BytesIO) -> None:
    try:
        import onnx
    except ImportError:
        raise NetspecError("ONNX export needs the onnx package: pip install onnx") from None
    example = torch.randn(1, *input_shape)
    # A backbone has one output per feature, named by its key (netspec.compiler.FeatureList); a classifier, one.
    keys = [key for key in getattr(model, "keys", []) if key] or ["output"]
    if "input" in keys:
        raise NetspecError("features: a key may not be 'input' in an ONNX export: that is the name of its input")
    # torch's exporter names values itself: it refuses a name that is a number ('0', torchvision's keys) and renames
    # its input when an output takes its name. Export under placeholders, then give the outputs their keys.
    placeholders = [f"netspec_output_{i}" for i in range(len(keys))]
    axes = {name: {0: "batch"} for name in ["input", *placeholders]}
    names = {"input_names": ["input"], "output_names": placeholders, "dynamic_axes": axes}
    graph_bytes = io.BytesIO()
    # The TorchScript-based exporter: the dynamo-based one needs onnxscript, and these models trace exactly.
    # A file object works (torch.onnx's docs say so; its type hints do not).
    torch.onnx.export(model, (example,), graph_bytes, dynamo=False, **names)  # type: ignore[arg-type]
    proto = onnx.load_from_string(graph_bytes.getvalue())
    renamed = dict(zip(placeholders, keys, strict=True))
    for node in proto.graph.node:
        node.output[:] = [renamed.get(name, name) for name in node.output]
        node.input[:] = [renamed.get(name, name) for name in node.input]
    for value in [*proto.graph.output, *proto.graph.value_info]:
        value.name = renamed.get(value.name, value.name)
    buffer.write(proto.SerializeToString())
