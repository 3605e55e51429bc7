"""netspec train on what is not images: 1-D series from an .npz of arrays or the UCR archive (aeon's loader), and
fake data of any number of axes; and what it refuses, in one line, before anything is trained."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import netspec
from netspec.errors import NetspecError

Cli = Callable[..., tuple[int, str, str]]

TINY = {  # the Wang ResNet's layout at a tenth of its widths, for series of 32 steps
    "input": {"size": 32},
    "stages": [{"depth": 1, "width": 8, "stride": 1}, {"depth": 1, "width": 16, "stride": 1}],
}


def _waves(path: Path, n: int = 40, test: int = 20, length: int = 32, seed: int = 0, **changed: Any) -> Path:
    """Two classes of noisy series: a sine of 2 periods and one of 5, at random phases."""
    rng = np.random.default_rng(seed)

    def make(count: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        y = rng.integers(0, 2, count)
        t = np.linspace(0, 2 * np.pi, length)
        x = np.sin(np.outer(np.where(y == 1, 5, 2), t) + rng.uniform(0, 6.3, (count, 1)))
        return (x + rng.normal(0, 0.3, x.shape))[:, None, :].astype(np.float32), y

    x, y = make(n)
    x_test, y_test = make(test)
    np.savez(path, **{"x": x, "y": y, "x_test": x_test, "y_test": y_test, **changed})
    return path


def _spec(**overrides: Any) -> netspec.Spec:
    return netspec.load_spec("signal/wang_resnet", overrides={**TINY, **overrides})


@pytest.mark.slow
def test_a_network_learns_series_from_an_npz(tmp_path: Path) -> None:
    data = _waves(tmp_path / "waves.npz")
    result = netspec.train(
        _spec(), data=f"npz:{data}", epochs=8, batch_size=8, lr=0.01, workers=0, out=str(tmp_path / "run")
    )
    accuracy = [row["test_acc"] for row in result.metrics]
    assert accuracy[-1] >= 0.9, accuracy  # chance is 0.5
    assert result.metrics[-1]["train_loss"] < result.metrics[0]["train_loss"]


@pytest.mark.slow
def test_a_3d_network_trains_on_fake_volumes(tmp_path: Path) -> None:
    spec = netspec.load_spec(
        "monai/medicalnet_resnet10",
        overrides={
            "input": {"size": [12, 10, 8]},
            "head": {"classes": 3},
            "stages": [{"depth": 1, "width": 4, "stride": 1}],
        },
    )
    result = netspec.train(spec, data="fake", fake_images=8, epochs=1, batch_size=4, workers=0, out=str(tmp_path / "r"))
    assert len(result.metrics) == 1 and np.isfinite(result.metrics[0]["train_loss"])


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"x_test": None}, "no array named x_test; it needs x, y, x_test and y_test"),
        (
            {"x": np.zeros((4, 2, 32), np.float32), "y": np.zeros(4)},
            "holds series of 2 x 32 (channels x length) but the spec's input is 1 x 32; set input.channels and "
            "input.size to match",
        ),
        (
            {"x": np.full((4, 1, 32), np.nan, np.float32), "y": np.zeros(4)},
            ": the series must be finite numbers (NaN or infinite values, or not numbers)",
        ),
        (
            {"y": np.array([0, 1, 2] * 13 + [0])},
            "has 3 classes but the network has 2 outputs; set head.classes: 3 (e.g. --set head.classes=3)",
        ),
    ],
    ids=["missing", "shape", "nan", "classes"],
)
def test_an_npz_that_does_not_fit_is_one_line(tmp_path: Path, changed: dict[str, Any], message: str) -> None:
    path = tmp_path / "waves.npz"
    if changed.get("x_test", 0) is None:
        np.savez(path, x=np.zeros((4, 1, 32), np.float32), y=np.zeros(4), y_test=np.zeros(2))
    else:
        _waves(path, **changed)
    with pytest.raises(NetspecError) as raised:
        netspec.train(_spec(), data=f"npz:{path}", workers=0, out=str(tmp_path / "run"))
    assert str(raised.value).endswith(message) and "\n" not in str(raised.value)
    assert not (tmp_path / "run").exists()  # a run that cannot start writes nothing


def test_an_npz_of_pickled_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object), y=np.zeros(1), x_test=np.zeros(1), y_test=np.zeros(1))
    with pytest.raises(NetspecError, match=r"objects.npz: not a readable .npz of arrays \(Object arrays cannot be"):
        netspec.train(_spec(), data=f"npz:{path}", workers=0, out=str(tmp_path / "run"))


def test_an_npz_whose_header_claims_terabytes_is_refused_unread(tmp_path: Path) -> None:
    """A header may declare any shape; the declared sizes are added up before any array is read."""
    path = _waves(tmp_path / "waves.npz")
    import zipfile

    with zipfile.ZipFile(path, "a") as archive:
        header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }"
        header += b" " * (117 - len(header)) + b"\n"
        archive.writestr("big.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
    declared = 4 * 10**12 + (40 * 32 + 20 * 32) * 4 + (40 + 20) * 8  # big.npy's float32s, then the real four arrays
    with pytest.raises(NetspecError, match=rf"waves.npz: its arrays take {declared:,} bytes, more than 8,589,934,592$"):
        netspec.train(_spec(), data=f"npz:{path}", workers=0, out=str(tmp_path / "run"))


def test_series_data_is_named_in_the_settings(cli: Cli) -> None:
    code, _, err = cli("train", "signal/wang_resnet", "--data", "ucr")
    assert code == 1
    assert err.endswith(
        "data: expected 'cifar10', 'fake', 'imagefolder:PATH', 'ucr:NAME' or 'npz:PATH', got the string 'ucr'\n"
    )


def test_a_ucr_set_is_read_with_aeons_loader_and_its_splits() -> None:
    """GunPoint as aeon ships it: 50 training and 150 test series of 150 steps, two classes (labels '1', '2')."""
    from aeon.datasets import load_classification

    from netspec.series import series_datasets
    from netspec.settings import TrainSettings

    spec = netspec.load_spec("signal/wang_resnet")
    train, test = series_datasets(TrainSettings(data="ucr:GunPoint"), spec.input, 2, 1)
    assert (len(train), len(test), tuple(train[0][0].shape)) == (50, 150, (1, 150))
    x, y = load_classification("GunPoint", split="test")
    assert np.allclose(test[:][0].numpy(), x) and test[:][1].tolist() == [int(label) - 1 for label in y]


def test_a_set_aeon_does_not_ship_is_named_with_those_it_does(tmp_path: Path) -> None:
    with pytest.raises(
        NetspecError,
        match=r"^--data ucr:GunPoin: aeon ships no such set; it ships .*GunPoint.*; did you mean 'GunPoint'\?$",
    ):
        netspec.train("signal/wang_resnet", data="ucr:GunPoin", workers=0, out=str(tmp_path / "run"))


@pytest.mark.slow
def test_a_series_network_fine_tunes_from_weights_with_frozen_parts(tmp_path: Path) -> None:
    """--weights with a new head (--skip fc) and layer1 frozen, in 1-D: layer1 ends as the file gave it, the rest
    trains."""
    import torch

    start = netspec.build(_spec(head={"classes": 3}))
    torch.save(start.state_dict(), tmp_path / "start.pt")
    data = _waves(tmp_path / "waves.npz")
    result = netspec.train(
        _spec(), data=f"npz:{data}", weights=str(tmp_path / "start.pt"), skip=("fc",), freeze=("layer1",),
        epochs=2, batch_size=8, workers=0, out=str(tmp_path / "run"),
    )  # fmt: skip
    trained, given = result.model.state_dict(), start.state_dict()
    assert all(
        torch.equal(trained[k].cpu(), v) for k, v in given.items() if k.startswith("layer1.") and "num_batches" not in k
    )
    assert not torch.equal(trained["layer2.0.convblock1.0.weight"].cpu(), given["layer2.0.convblock1.0.weight"])
