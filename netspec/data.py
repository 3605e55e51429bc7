"""Training and test sets from torchvision (CIFAR-10, FakeData, or a user's ImageFolder, with standard transforms),
and one training process's loaders over them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from torchvision import datasets
from torchvision import transforms as T

from netspec.errors import NetspecError
from netspec.images import ImageFiles, pixel_cap
from netspec.kinds import per_axis
from netspec.series import check_classes, series_datasets  # series, volumes, fake data of any axes
from netspec.settings import TrainSettings
from netspec.spec import Input

CIFAR_CLASSES = 10


def datasets_for(
    settings: TrainSettings, spec_input: Input, classes: int, dims: int = 2
) -> tuple[Dataset[Any], Dataset[Any]]:
    """(train, test) for `settings.data`, at the spec's input size and normalized as its input says (the model's
    fact, not the data's: fine-tuning keeps the normalization the weights were trained with); `classes` is the
    network's output count."""
    size, normalize = spec_input.size, T.Normalize(*spec_input.normalization)
    if dims != 2 or settings.data.startswith(("ucr:", "npz:")):
        return series_datasets(settings, spec_input, classes, dims)
    if spec_input.channels != 3:
        raise NetspecError(f"netspec train reads RGB images, but the spec's input.channels is {spec_input.channels}")
    if settings.data == "fake":
        return _fake(settings, size, classes)
    if settings.data == "cifar10":
        check_classes(classes, CIFAR_CLASSES, "CIFAR-10")
        return _cifar10(settings, size, normalize)
    folder = Path(settings.data.removeprefix("imagefolder:"))
    return _imagefolder(folder, settings, size, normalize, classes)


Side = int | tuple[int, ...]  # an image's size: its side, or (height, width)


def _small_image_transforms(augment: bool, size: Side, normalize: T.Normalize) -> T.Compose:
    """CIFAR's augmentation (He et al. 2015): pad by an eighth, random crop back, random horizontal flip."""
    pad = min(per_axis(size, 2)) // 8
    steps: list[object] = [T.RandomCrop(size, padding=pad), T.RandomHorizontalFlip()] if augment else []
    return T.Compose([*steps, T.ToTensor(), normalize])


def _fake(settings: TrainSettings, size: Side, classes: int) -> tuple[Dataset[Any], Dataset[Any]]:
    # Random pixels have no normalization to keep: centre and scale them by their own statistics.
    synthetic = T.Normalize((0.5,) * 3, (0.25,) * 3)
    test = T.Compose([T.ToTensor(), synthetic])
    train = _small_image_transforms(settings.augment, size, synthetic)
    count, shape = settings.fake_images, (3, *per_axis(size, 2))
    # Different offsets keep the test images apart from the training images.
    return (
        datasets.FakeData(count, shape, classes, transform=train, random_offset=0),
        datasets.FakeData(max(1, count // 5), shape, classes, transform=test, random_offset=count),
    )


def _cifar10(settings: TrainSettings, size: Side, normalize: T.Normalize) -> tuple[Dataset[Any], Dataset[Any]]:
    if per_axis(size, 2) != (32, 32):
        raise NetspecError(f"CIFAR-10 images are 32x32, but the spec's input.size is {size}; set input.size: 32")
    train = _small_image_transforms(settings.augment, size, normalize)
    test = _small_image_transforms(False, size, normalize)
    root = Path(settings.data_dir)
    try:
        return (
            datasets.CIFAR10(str(root), train=True, transform=train, download=True),
            datasets.CIFAR10(str(root), train=False, transform=test, download=True),
        )
    except (OSError, RuntimeError) as exc:  # no network (URLError is an OSError), or a damaged archive
        raise NetspecError(
            f"CIFAR-10 is not in {root}/cifar-10-batches-py and could not be downloaded ({exc}); copy "
            f"cifar-10-python.tar.gz (from https://www.cs.toronto.edu/~kriz/cifar.html) into {root}, or choose it "
            "with --data-dir"
        ) from None


def _imagefolder(
    path: Path, settings: TrainSettings, size: Side, normalize: T.Normalize, classes: int
) -> tuple[Dataset[Any], Dataset[Any]]:
    """PATH/train/CLASS/*.png and PATH/val/CLASS/*.png (torchvision's ImageFolder layout, as for ImageNet)."""
    folders = [path / "train", path / "val"]
    missing = [str(folder) for folder in folders if not folder.is_dir()]
    if missing:
        raise NetspecError(f"{' and '.join(missing)}: no such folder; imagefolder:PATH needs PATH/train and PATH/val")
    plain = T.Compose([T.Resize(size), T.CenterCrop(size), T.ToTensor(), normalize])  # the test set's
    augmented = T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(), normalize])
    cap = pixel_cap(settings.workers + 1)  # the loader's workers and this process may each decode one
    train = ImageFiles(folders[0], augmented if settings.augment else plain, cap)
    test = ImageFiles(folders[1], plain, cap)
    if train.classes != test.classes:
        raise NetspecError(f"{folders[0]} and {folders[1]} have different classes: {train.classes} and {test.classes}")
    check_classes(classes, len(train.classes), str(path))
    return train, test


class Seeded(Dataset[Any]):
    """A dataset whose item `i` of `epoch` is drawn (augmented) with a random state made from the seed, the epoch and
    `i` alone: the same whichever process or loader worker loads it, and however many there are. The state of the
    process that loads it is left as it was (dropout and stochastic depth draw from it)."""

    def __init__(self, data: Dataset[Any], seed: int) -> None:
        self.data, self.seed, self.epoch = data, seed, 0

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        with torch.random.fork_rng(devices=[]):
            # The CPU generator alone, which transforms draw from: torch.manual_seed would also queue a reseed of
            # every accelerator, formatting a stack trace for each (1 ms an image, measured here).
            torch.default_generator.manual_seed(((self.seed * 1_000_003 + self.epoch) * 1_000_033 + index) % (1 << 63))
            return self.data[index]


def left_out(train_set: Dataset[Any], settings: TrainSettings, world: int) -> int:
    """1 when each process's last batch of an epoch would hold one image (which is then left out), else 0; an error
    when that would leave nothing to train on."""
    share = -(-len(train_set) // world)  # type: ignore[arg-type]  # DistributedSampler pads to a multiple of world
    dropped = 1 if share % (settings.batch_size // world) == 1 else 0
    if share == dropped:
        raise NetspecError(f"the training set holds {len(train_set):,} image; training needs at least 2")  # type: ignore[arg-type]
    return dropped


class Loaders:
    """Process `rank` of `world`: its training batches (reshuffled and reseeded each epoch) and its share of the
    test set. `pin` pins host memory for copies to a GPU. A last batch of one image is left out: batch norm cannot
    train on a single image's 1 x 1 maps, and one image's statistics are noise anyway (`dropped` says so)."""

    def __init__(
        self, train_set: Dataset[Any], test_set: Dataset[Any], settings: TrainSettings, rank: int, world: int, pin: bool
    ) -> None:
        self.seed, self.rank = settings.seed, rank
        batch, workers = settings.batch_size // world, settings.workers
        self.seeded = Seeded(train_set, self.seed)
        # One replica when alone: the same permutation, split the same way, whatever the number of processes.
        self.sampler: DistributedSampler[Any] = DistributedSampler(train_set, world, rank, shuffle=True, seed=self.seed)
        self.dropped = left_out(train_set, settings, world)
        # Workers start afresh each epoch, given the dataset of that epoch: each item's draws depend only on the seed,
        # the epoch and the item, so a resumed run, or one with other --workers, draws what the full run drew.
        self._train = DataLoader(
            self.seeded, batch, sampler=self.sampler, num_workers=workers, pin_memory=pin, drop_last=bool(self.dropped)
        )
        shard = Subset(test_set, range(rank, len(test_set), world))  # type: ignore[arg-type]
        self.test = DataLoader(shard, batch, num_workers=workers, pin_memory=pin)  # every test image once
        self.images = (len(self.sampler) - self.dropped) * world

    def train(self, epoch: int) -> DataLoader[Any]:
        """Batches for `epoch`: its permutation and its augmentation draws depend only on the seed and epoch."""
        self.sampler.set_epoch(epoch)
        self.seeded.epoch = epoch
        torch.manual_seed(self.seed * 1_000_003 + epoch * 1009 + self.rank)  # dropout and stochastic depth
        return self._train
