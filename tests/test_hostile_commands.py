"""Round 3, commands: bench and export refused before allocating what this machine lacks, bench's flags, ONNX
exports of torchvision-style feature keys, the markdown summary, and training's edge cases. One line each."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from safetensors.torch import load_file

import netspec
from tests.measure import GiB, measured

Cli = Callable[..., tuple[int, str, str]]
FAKE = ["--data", "fake", "--epochs", "1", "--workers", "0"]


def test_bench_refuses_a_batch_this_machine_cannot_hold(tmp_path: Path) -> None:
    run = measured(["bench", "resnet18", "--batch", "20000"], tmp_path)
    assert run.code == 1 and run.err.count("\n") == 1, run
    assert run.err.startswith("bench --batch 20000: resnet18 at batch 20,000 (224 x 224) would need about "), run.err
    assert " for inference, more than the " in run.err and " GB free here; lower the batch or input size" in run.err
    assert run.peak < 2 * GiB, run


def test_export_refuses_an_input_this_machine_cannot_trace(tmp_path: Path) -> None:
    run = measured(["export", "resnet18", "--input-size", "12000", "--format", "onnx", "-o", "big.onnx"], tmp_path)
    found = re.fullmatch(
        r"export --format onnx --input-size 12000: resnet18 at batch 1 \(12000 x 12000\) would need about ([\d.,]+) GB "
        r"for tracing, more than the ([\d.,]+) GB free here; lower the batch or input size, or raise it with "
        r"--limit memory=\d+\n",
        run.err,
    )
    assert run.code == 1 and found, run
    assert float(found[1].replace(",", "")) > float(found[2].replace(",", "")) > 1  # refused because it needs more
    assert run.peak < 2 * GiB and not (tmp_path / "big.onnx").exists(), run


def test_the_memory_limit_is_a_limit_like_the_others(tmp_path: Path, cli: Cli) -> None:
    out = str(tmp_path / "r20.onnx")
    code, _, err = cli("export", "cifar/resnet20", "--format", "onnx", "-o", out, "--limit", "memory=1e6")
    found = re.fullmatch(
        r"export --format onnx: resnet20 at batch 1 \(32 x 32\) would need about [\d.]+ MB for tracing, more than the "
        r"limit of 1.0 MB; lower the batch or input size, or raise it with --limit memory=(\d+)\n",
        err,
    )
    assert code == 1 and found, err
    needed = int(found[1])
    assert cli("export", "cifar/resnet20", "--format", "onnx", "-o", out, "--limit", f"memory={needed - 1}")[0] == 1
    assert cli("export", "cifar/resnet20", "--format", "onnx", "-o", out, "--limit", f"memory={needed}")[0] == 0
    from netspec.feasible import free_memory

    free = free_memory()
    assert free is not None and free > 1 << 30  # what the default compares with, read from /proc/meminfo


def test_bench_training_on_a_one_by_one_map_needs_two_images(cli: Cli) -> None:
    code, out, err = cli("bench", "cifar/resnet20", "--train", "--batch", "1", "--input-size", "4", "--paths", "eager")
    message = (
        "batch norm at layer3.0.bn1 would see one value per channel (a 1 x 1 map of 1 image) and cannot train on it"
    )
    assert (code, out, err) == (1, "", f"bench --train --batch 1: {message}; use a batch of at least 2\n")


def test_bench_says_which_paths_it_cannot_run_here(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    code, _, err = cli("bench", "cifar/resnet20", "--paths", "onnxruntime", "--batch", "1")
    assert (code, err) == (
        1,
        "bench --paths onnxruntime: onnxruntime is not installed here (pip install onnxruntime)\n",
    )
    code, out, err = cli(
        "bench", "cifar/resnet20", "--batch", "1", "--repeats", "1", "--warmup", "0", "--format", "json"
    )
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert [row["path"] for row in report["rows"]] == ["eager", "optimized", "torchscript"]
    assert report["notes"] == ["onnxruntime: not installed here, not timed (pip install onnxruntime)"]


@pytest.mark.slow
def test_bench_takes_a_thread_count() -> None:
    argv = ["bench", "cifar/resnet20", "--batch", "1", "--paths", "eager", "--repeats", "1", "--warmup", "0"]
    done = subprocess.run([sys.executable, "-m", "netspec", *argv, "--threads", "1"], capture_output=True, text=True)
    assert done.returncode == 0 and "input 3 x 32 x 32, 1 thread, median of 1 call" in done.stdout, done


def test_onnx_exports_take_torchvisions_numeric_feature_keys(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "fpn.yaml").write_text('netspec: 1\nextends: resnet18\nfeatures: {layer2: "0", layer3: "1"}\n')
    path = tmp_path / "fpn.onnx"
    torch.manual_seed(0)  # the exported network's weights, and below the same again
    assert cli("export", str(tmp_path / "fpn.yaml"), "--format", "onnx", "-o", str(path))[:2] == (
        0,
        f"{path}: fpn as onnx\n",
    )
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    assert [v.name for v in graph.graph.input] == ["input"] and [v.name for v in graph.graph.output] == ["0", "1"]
    torch.manual_seed(0)
    model = netspec.build(tmp_path / "fpn.yaml").eval()
    x = torch.randn(2, 3, 224, 224)  # the traced size; the batch is free
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = dict(zip(["0", "1"], session.run(None, {"input": x.numpy()}), strict=True))
    with torch.no_grad():
        expected = model(x)
    for key in ("0", "1"):
        np.testing.assert_allclose(got[key], expected[key].numpy(), rtol=1e-4, atol=1e-4)


def test_a_feature_key_named_like_the_onnx_input_is_refused(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "fpn.yaml").write_text("netspec: 1\nextends: resnet18\nfeatures: {layer2: input, layer3: b}\n")
    code, _, err = cli("export", str(tmp_path / "fpn.yaml"), "--format", "onnx", "-o", str(tmp_path / "fpn.onnx"))
    message = "features: a key may not be 'input' in an ONNX export: that is the name of its input"
    assert (code, err) == (1, f"{message}\n") and not (tmp_path / "fpn.onnx").exists()


def test_the_markdown_summary_is_a_well_formed_table(cli: Cli) -> None:
    code, out, err = cli("summary", "resnet18", "--format", "markdown", "--depth", "block")
    assert (code, err) == (0, "")
    rows = [line for line in out.splitlines() if line.startswith("|")]
    assert rows[1] == "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
    assert all(row.endswith(" |") and "||" not in row for row in rows)
    assert {row.count(" | ") for row in rows} == {9}  # ten cells in every row
    assert sum(row.startswith("| layer1.0 | basic | ") for row in rows) == 1  # a block row, not indented


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["cifar/resnet20", "--skip", "fc"],
            "--skip: skip: leaves out part of the starting weights, but there are "
            "none: give --weights FILE or --pretrained",
        ),
        (
            ["cifar/resnet20", "--set", "head.classes=0"],
            "train: resnet20 has no classifier (head.classes: 0), and "
            "netspec train trains classifiers; set head.classes to the number of classes",
        ),
        (
            ["cifar/resnet20", "--set", "features=[layer3]"],
            "train: resnet20 is a backbone (its spec has features), and "
            "netspec train trains classifiers; train the spec without features",
        ),
        (
            ["cifar/resnet20", "--batch-size", "1", "--set", "input.size=4"],
            "train --batch-size 1: batch norm at "
            "layer3.0.bn1 would see one value per channel (a 1 x 1 map of 1 image) and cannot train on it; use a batch "
            "of at least 2",
        ),
        (["cifar/resnet20", "--fake-images", "1"], "the training set holds 1 image; training needs at least 2"),
    ],
    ids=["skip-without-weights", "no-classes", "backbone", "batch-of-one", "one-image"],
)
def test_training_that_cannot_run_is_refused_before_any_file(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("train", *argv, *FAKE)
    assert (code, out, err) == (1, "", f"{message}\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_last_batch_of_one_image_is_left_out_and_said(tmp_path: Path, cli: Cli) -> None:
    """ResNet-18 at 32 x 32 ends in 1 x 1 maps, where batch norm cannot train on one image."""
    argv = ["resnet18", "--set", "input.size=32", "--set", "head.classes=10", *FAKE, "--fake-images", "17"]
    code, out, err = cli("train", *argv, "--batch-size", "16", "--out", str(tmp_path / "run"))
    assert (code, err) == (0, ""), err
    assert out.startswith(
        "note: each epoch's last batch would hold one image; it is left out (16 images train an epoch, of 17)\n"
    ), out


def _train(folder: Path, workers: int, epochs: int, resume: bool = False) -> Any:
    settings = {"data": "fake", "fake_images": 48, "batch_size": 16, "epochs": epochs, "workers": workers}
    return netspec.train("cifar/resnet20", out=str(folder), resume=resume, **settings)


@pytest.mark.slow
def test_results_do_not_depend_on_the_number_of_loader_workers(tmp_path: Path) -> None:
    alone, helped = _train(tmp_path / "w0", 0, 2), _train(tmp_path / "w2", 2, 2)
    for key, value in alone.model.state_dict().items():
        assert torch.equal(value, helped.model.state_dict()[key]), key
    timing = ("images_per_s", "seconds")
    strip = [[{k: v for k, v in row.items() if k not in timing} for row in r.metrics] for r in (alone, helped)]
    assert strip[0] == strip[1]
    _train(tmp_path / "resumed", 2, 1)  # one epoch with two workers, resumed with none: the same two epochs
    _train(tmp_path / "resumed", 0, 2, resume=True)
    ours, theirs = load_file(tmp_path / "resumed" / "last.safetensors"), load_file(tmp_path / "w0" / "last.safetensors")
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
