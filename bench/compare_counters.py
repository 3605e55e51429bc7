"""Why torchinfo, fvcore and ptflops report different totals for ResNet-50, checked term by term.

Each tool's total is rebuilt from netspec's static figures (MACs, and element counts per layer type), and the
script checks that the rebuilt number equals what the tool reports on torchvision's resnet50.
Needs the three tools, which are not netspec dependencies:  pip install torchinfo fvcore ptflops
Usage: python bench/compare_counters.py
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter

import torch
import torchvision

import netspec
from netspec.analysis import analyze
from netspec.network import plan_network


def netspec_terms() -> dict[str, int]:
    """MACs, and per layer type: parameters and the elements it processes (netspec's `ops`)."""
    analysis = analyze(plan_network(netspec.load_spec("resnet50")))
    ops: Counter[str] = Counter()
    params: Counter[str] = Counter()
    for layer in analysis.layers:
        ops[layer.kind] += layer.ops
        params[layer.kind] += layer.params
    pool_inputs = 64 * 112 * 112  # the stem max pool's input; netspec counts its 3x3 windows per output
    return {
        "macs": analysis.totals.macs,
        "bn_elements": ops["BatchNorm2d"],
        "bn_params": params["BatchNorm2d"],
        "relu_elements": ops["ReLU"],
        "maxpool_inputs": pool_inputs,
        "avgpool_inputs": ops["AdaptiveAvgPool2d"],
        "fc_bias": 1000,
    }


def tools() -> dict[str, int]:
    from fvcore.nn import FlopCountAnalysis
    from ptflops import get_model_complexity_info
    from torchinfo import summary

    model = torchvision.models.resnet50().eval()
    found = {"torchinfo": summary(model, input_size=(1, 3, 224, 224), verbose=0).total_mult_adds}
    fv = FlopCountAnalysis(model, torch.zeros(1, 3, 224, 224))
    fv.unsupported_ops_warnings(False)
    found["fvcore"] = fv.total()
    for backend in ("pytorch", "aten"):
        with contextlib.redirect_stdout(io.StringIO()):
            macs, _ = get_model_complexity_info(
                model, (3, 224, 224), as_strings=False, print_per_layer_stat=False, backend=backend
            )
        found[f"ptflops ({backend} backend)"] = int(macs)
    return found


def main() -> None:
    t = netspec_terms()
    explained = {
        "netspec": (t["macs"], "MACs of convolutions and linear layers"),
        "torchinfo": (t["macs"] + t["fc_bias"] + t["bn_params"], "MACs + the fc bias + BatchNorm *parameters*"),
        "fvcore": (t["macs"] + 2 * t["bn_elements"] + t["avgpool_inputs"], "MACs + 2 per BatchNorm element + pool"),
        "ptflops (pytorch backend)": (
            t["macs"]
            + t["fc_bias"]
            + 2 * t["bn_elements"]
            + 2 * (t["relu_elements"] + t["maxpool_inputs"] + t["avgpool_inputs"]),
            "MACs + fc bias + 2 per BatchNorm element + ReLU and pool elements, each twice",
        ),
        "ptflops (aten backend)": (t["macs"] + t["fc_bias"], "MACs + the fc bias"),
    }
    reported = tools() | {"netspec": t["macs"]}
    print("| counter | reports | rebuilt from netspec's figures | what it counts | equal |")
    print("| --- | ---: | ---: | --- | --- |")
    for name, (value, what) in explained.items():
        print(f"| {name} | {reported[name]:,} | {value:,} | {what} | {'yes' if value == reported[name] else 'NO'} |")
    print(f"\nterms: {', '.join(f'{k} {v:,}' for k, v in t.items())}")


if __name__ == "__main__":
    main()
