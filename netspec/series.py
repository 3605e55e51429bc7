"""Training and test sets for networks that do not read images: time series of the UCR/UEA archive (the sets aeon
ships inside its wheel, read with aeon's own loader), a user's arrays in an .npz file, and fake data of any
number of axes. Each is a pair of TensorDatasets of float32 inputs (N, channels, *axes) and int64 labels."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from netspec.errors import NetspecError, did_you_mean
from netspec.kinds import per_axis, size_text
from netspec.settings import TrainSettings
from netspec.spec import Input

MAX_NPZ_BYTES = 8 << 30  # an .npz's arrays, uncompressed: more than any series set, less than this machine holds


def series_datasets(
    settings: TrainSettings, spec_input: Input, classes: int, dims: int
) -> tuple[TensorDataset, TensorDataset]:
    """(train, test) for `settings.data`: ucr:NAME, npz:PATH or fake, for a network of `dims` spatial axes."""
    if settings.data == "fake":
        return _fake(settings, spec_input, classes, dims)
    if settings.data.startswith("ucr:"):
        name = settings.data.removeprefix("ucr:")
        arrays, source = _ucr(name), f"the UCR set {name}"
    elif settings.data.startswith("npz:"):
        path = Path(settings.data.removeprefix("npz:"))
        arrays, source = _npz(path), str(path)
    else:
        raise NetspecError(f"--data {settings.data}: a network of dims {dims} trains on ucr:NAME, npz:PATH or fake")
    x_train, y_train, x_test, y_test = arrays
    labels = sorted(set(y_train.tolist()) | set(y_test.tolist()), key=str)
    check_classes(classes, len(labels), source)
    index = {label: i for i, label in enumerate(labels)}
    mean, std = _normalization(spec_input)
    return tuple(  # type: ignore[return-value]
        TensorDataset(_checked(x, spec_input, dims, source, mean, std), torch.tensor([index[v] for v in y.tolist()]))
        for x, y in ((x_train, y_train), (x_test, y_test))
    )


def _normalization(spec_input: Input) -> tuple[torch.Tensor, torch.Tensor] | tuple[None, None]:
    """The spec's mean and std when it gives them; series are used as they come otherwise (the UCR sets are
    z-normalised, and a signal has no usual range as pixels have)."""
    if spec_input.mean is None and spec_input.std is None:
        return None, None
    mean, std = spec_input.normalization
    return torch.tensor(mean)[:, None], torch.tensor(std)[:, None]


def _checked(x: np.ndarray[Any, Any], spec_input: Input, dims: int, source: str, mean: Any, std: Any) -> torch.Tensor:
    """`x` as float32 (N, channels, *axes), of the spec's channels and size, finite, normalised as the spec says."""
    want = (spec_input.channels, *per_axis(spec_input.size, dims))
    if x.ndim != 2 + dims or x.shape[1:] != want:
        given = " x ".join(str(n) for n in x.shape[1:]) or "nothing"
        raise NetspecError(
            f"{source} holds series of {given} (channels x length) but the spec's input is "
            f"{want[0]} x {size_text(want[1:])}; set input.channels and input.size to match"
        )
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise NetspecError(f"{source}: the series must be finite numbers (NaN or infinite values, or not numbers)")
    tensor = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if mean is not None:
        tensor = (tensor - mean.reshape(1, -1, *[1] * dims)) / std.reshape(1, -1, *[1] * dims)
    return tensor


def _ucr(name: str) -> tuple[Any, Any, Any, Any]:
    """A set of the archive that aeon ships in its wheel (GunPoint, ItalyPowerDemand, ArrowHead, OSULeaf,
    BasicMotions, ...), read with aeon's loader from aeon's own folder, never downloaded: its train and test splits,
    as published."""
    try:
        import aeon.datasets  # type: ignore[import-untyped]
        from aeon.datasets import load_classification
    except ImportError:
        raise NetspecError("--data ucr:NAME reads the UCR archive with aeon: pip install 'netspec[series]'") from None
    root = Path(aeon.datasets.__file__).parent / "data"
    shipped = sorted(p.name for p in root.iterdir() if (p / f"{p.name}_TRAIN.ts").is_file())
    if name not in shipped:
        raise NetspecError(
            f"--data ucr:{name}: aeon ships no such set; it ships {', '.join(shipped)}{did_you_mean(name, shipped)}"
        )
    try:
        x_train, y_train = load_classification(name, split="train", extract_path=str(root))
        x_test, y_test = load_classification(name, split="test", extract_path=str(root))
    except (OSError, ValueError) as exc:
        raise NetspecError(f"--data ucr:{name}: aeon could not read it ({' '.join(str(exc).split())[:200]})") from None
    return x_train, y_train, x_test, y_test


def _npz(path: Path) -> tuple[Any, Any, Any, Any]:
    """x (N x channels x length), y (N), and x_test, y_test; plain arrays only (no pickled objects), of at most
    MAX_NPZ_BYTES as their headers declare them, read before any array is."""
    try:
        with zipfile.ZipFile(path) as archive:
            declared = {name.removesuffix(".npy"): _array_bytes(archive, name) for name in archive.namelist()}
        missing = [k for k in ("x", "y", "x_test", "y_test") if k not in declared]
        if missing:
            raise NetspecError(f"{path}: no array named {', '.join(missing)}; it needs x, y, x_test and y_test")
        if sum(declared.values()) > MAX_NPZ_BYTES:
            raise NetspecError(f"{path}: its arrays take {sum(declared.values()):,} bytes, more than {MAX_NPZ_BYTES:,}")
        with np.load(path, allow_pickle=False) as npz:
            return npz["x"], npz["y"], npz["x_test"], npz["y_test"]
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise NetspecError(f"{path}: not a readable .npz of arrays ({' '.join(str(exc).split())[:200]})") from None


def _array_bytes(archive: zipfile.ZipFile, name: str) -> int:
    """The bytes an .npy member's header says its array takes."""
    with archive.open(name) as member:
        version = np.lib.format.read_magic(member)  # type: ignore[no-untyped-call]
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(member)  # type: ignore[no-untyped-call]  # the header only
    return int(math.prod(shape) * dtype.itemsize)


def _fake(settings: TrainSettings, spec_input: Input, classes: int, dims: int) -> tuple[TensorDataset, TensorDataset]:
    """Random inputs of the spec's shape and random labels, drawn from the seed; a fifth as many to test."""
    shape = (spec_input.channels, *per_axis(spec_input.size, dims))
    generator = torch.Generator().manual_seed(settings.seed)
    count = settings.fake_images
    sets = []
    for n in (count, max(1, count // 5)):
        x = torch.randn(n, *shape, generator=generator)
        sets.append(TensorDataset(x, torch.randint(classes, (n,), generator=generator)))
    return sets[0], sets[1]


def check_classes(network: int, data: int, name: str) -> None:
    """Refuse a network whose outputs are not the data's classes, saying which head.classes to set."""
    if network != data:
        raise NetspecError(
            f"{name} has {data} classes but the network has {network} outputs; set head.classes: {data} "
            f"(e.g. --set head.classes={data})"
        )
