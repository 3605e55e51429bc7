"""Pretrained weights: the table follows torchvision's and timm's registries; files are found in a temporary
TORCH_HOME or downloaded from a local server (no network in tests), verified by hash, and refused in one line."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
import torchvision

import netspec
from netspec import pretrained
from netspec.errors import NetspecError
from netspec.pretrained import Weights
from tests.test_docs import _script

Cli = Callable[..., tuple[int, str, str]]
INPUT = {"size": 224, "resize": 256, "interpolation": "bilinear", "mean": [0.485, 0.456, 0.406]}


def test_the_table_is_torchvisions_and_timms_defaults() -> None:
    assert _script("gen_pretrained").main(["--check"]) == 0, "run: python scripts/gen_pretrained.py"
    table = pretrained.table()
    r50 = torchvision.models.ResNet50_Weights.DEFAULT
    assert (table["resnet50"].url, table["resnet50"].file, table["resnet50"].sha256) == (
        r50.url,
        "resnet50-11ad3fa6.pth",
        "11ad3fa6",
    )
    assert table["timm/resnet50d"].file == "resnet50d_ra2-464e36ba.pth"
    for name, weights in (
        ("r3d_18", "R3D_18_Weights"),
        ("mc3_18", "MC3_18_Weights"),
        ("r2plus1d_18", "R2Plus1D_18_Weights"),
    ):
        kinetics = getattr(torchvision.models.video, weights).KINETICS400_V1
        assert (table[f"video/{name}"].url, table[f"video/{name}"].classes) == (kinetics.url, 400)


def test_each_weights_normalization_is_its_specs() -> None:
    for name, weights in pretrained.table().items():
        mean, std = netspec.load_spec(name).input.normalization
        assert (list(mean), list(std)) == (weights.input["mean"], weights.input["std"]), name


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary TORCH_HOME whose checkpoint folder holds nothing yet; downloads allowed."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("NETSPEC_OFFLINE", raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


def _publish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str = "") -> tuple[Path, dict[str, torch.Tensor]]:
    """A torchvision ResNet-18 checkpoint named as torchvision names its files, and the table row for it."""
    torch.manual_seed(0)
    state = torchvision.models.resnet18().state_dict()
    source = tmp_path / "published" / "r18.pth"
    source.parent.mkdir()
    torch.save(state, source)
    prefix = hashlib.sha256(source.read_bytes()).hexdigest()[:8]
    file = f"resnet18-{prefix}.pth"
    source = source.rename(source.with_name(file))
    url = url or f"https://example.invalid/{file}"
    row = Weights("resnet18", "a test", url, file, prefix, "MIT", 1000, None, INPUT)
    monkeypatch.setattr(pretrained, "table", lambda: {"resnet18": row})
    return source, state


def _cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """_publish, with the file already in the cache, as a download or torchvision would have left it."""
    source, state = _publish(tmp_path, monkeypatch)
    home.mkdir(parents=True)
    (home / source.name).write_bytes(source.read_bytes())
    return source, state


@pytest.mark.slow
def test_a_cached_file_with_the_right_hash_loads(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, state = _cached(tmp_path, monkeypatch, home)
    model = netspec.build("resnet18", pretrained=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    ten = netspec.build("resnet18", pretrained=True, head={"classes": 10})  # the head stays new
    assert ten.fc.out_features == 10
    assert torch.equal(ten.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])
    backbone = netspec.build("resnet18", pretrained=True, features=["layer3", "layer4"])
    assert torch.equal(backbone.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])


@pytest.mark.slow
def test_a_video_networks_published_file_loads_under_torchvisions_names(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Kinetics-400 checkpoint as torchvision publishes it (its names: stem.0, layer1.0.conv1.0.0), cached under
    its hashed file name: --pretrained verifies it, renames it as netspec.load_weights does, and loads it all."""
    torch.manual_seed(0)
    reference = torchvision.models.video.r2plus1d_18()
    source = home / "r2plus1d_18.pth"
    home.mkdir(parents=True)
    torch.save(reference.state_dict(), source)
    prefix = hashlib.sha256(source.read_bytes()).hexdigest()[:8]
    file = source.rename(home / f"r2plus1d_18-{prefix}.pth").name
    row = Weights(
        "video/r2plus1d_18", "a test", f"https://example.invalid/{file}", file, prefix, "MIT", 400, 1.0, INPUT
    )
    monkeypatch.setattr(pretrained, "table", lambda: {"video/r2plus1d_18": row})
    model = netspec.build("video/r2plus1d_18", pretrained=True).eval()
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference.eval()(x))


def test_the_command_line_loads_and_reports(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    source, state = _cached(tmp_path, monkeypatch, home)
    code, out, err = cli("build", "resnet18", "--pretrained", "--set", "head.classes=10")
    assert (code, err) == (0, "")
    loaded = f"loaded {len(state) - 2} of the model's {len(state)} tensors"  # all of torchvision's but fc's 2
    assert out.endswith(f"\n{loaded} from {home / source.name}; skipped 2: fc.weight, fc.bias\n")
    code, _, err = cli("build", "resnet18", "--pretrained", "--weights", str(source))
    assert code == 2 and "not allowed with argument" in err
    code, _, err = cli("build", "cifar/resnet20", "--pretrained")
    assert (code, err) == (
        1,
        "--pretrained: 'cifar/resnet20' has no published weights; pretrained weights exist "
        "for the builtin specs resnet18\n",
    )


def _damaged(data: bytes) -> bytes:
    """`data` with one bit of its first byte flipped."""
    return bytes([data[0] ^ 1]) + data[1:]


def test_a_wrong_hash_is_one_line_and_nothing_is_loaded(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _ = _publish(tmp_path, monkeypatch)
    home.mkdir(parents=True)
    cached = home / source.name
    cached.write_bytes(_damaged(source.read_bytes()))
    found = hashlib.sha256(cached.read_bytes()).hexdigest()[:8]
    prefix = source.name[9:17]
    with pytest.raises(NetspecError) as raised:
        netspec.build("resnet18", pretrained=True)
    assert str(raised.value) == (
        f"{cached}: its SHA-256 starts {found}, not {prefix} as the table gives for resnet18's weights (a test); "
        "delete it to download it again"
    )


def test_offline_and_absent_says_where_to_put_the_file(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _ = _publish(tmp_path, monkeypatch)
    monkeypatch.setenv("NETSPEC_OFFLINE", "1")
    with pytest.raises(NetspecError) as raised:
        netspec.build("resnet18", pretrained=True)
    assert str(raised.value) == (
        f"resnet18: pretrained weights {source.name} are not in {home} and downloading is off (NETSPEC_OFFLINE=1); "
        f"download https://example.invalid/{source.name} into that folder"
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """A local HTTP server: (its base URL, the files it serves by path; b'TORN:' + data sends half of data)."""
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = files.get(self.path)
            if data is None:
                self.send_error(404, "Not Found")
                return
            torn = data.startswith(b"TORN:")
            data = data.removeprefix(b"TORN:")
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if torn else data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.slow
def test_a_download_lands_in_the_cache_only_when_whole_and_verified(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, server: tuple[str, dict[str, bytes]]
) -> None:
    base, files = server
    source, state = _publish(tmp_path, monkeypatch, f"{server[0]}/r18.pth")
    url = f"{base}/r18.pth"
    files["/r18.pth"] = b"TORN:" + source.read_bytes()  # the connection ends half-way
    with pytest.raises(NetspecError, match=rf"^resnet18: cannot download {url} \(.*\); put {source.name} in {home}"):
        netspec.build("resnet18", pretrained=True)
    assert list(home.iterdir()) == []  # no part of a file, no temporary file
    files["/r18.pth"] = _damaged(source.read_bytes())
    with pytest.raises(NetspecError, match=rf"^{url}: the download's SHA-256 starts [0-9a-f]{{8}}, not .*; nothing"):
        netspec.build("resnet18", pretrained=True)
    assert list(home.iterdir()) == []
    files.clear()
    with pytest.raises(NetspecError, match=rf"^resnet18: cannot download {url} \(Not Found\)"):
        netspec.build("resnet18", pretrained=True)
    files["/r18.pth"] = source.read_bytes()
    with pytest.raises(NetspecError, match=rf"^{url}: larger than any checkpoint of this model \(1,000 bytes\)$"):
        pretrained.fetch(pretrained.table()["resnet18"], 1000)
    assert list(home.iterdir()) == []
    model = netspec.build("resnet18", pretrained=True)
    assert [p.name for p in home.iterdir()] == [source.name]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


@pytest.mark.slow
def test_training_starts_from_the_published_weights(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    source, state = _cached(tmp_path, monkeypatch, home)
    argv = ["train", "resnet18", "--set", "head.classes=10", "--set", "input.size=32", "--data", "fake"]
    argv += ["--fake-images", "16", "--epochs", "1", "--batch-size", "8", "--workers", "0"]
    argv += ["--out", str(tmp_path / "run"), "--freeze", "stem,layer1,layer2,layer3,layer4"]
    code, out, err = cli(*argv, "--pretrained")
    assert (code, err) == (0, "")
    expected = f"loaded {len(state) - 2} of the model's {len(state)} tensors from {home / source.name}; skipped 2:"
    assert out.startswith(expected)
    trained = netspec.load(tmp_path / "run" / "last.safetensors").state_dict()
    assert all(torch.equal(trained[k], v) for k, v in state.items() if not k.startswith("fc."))  # frozen as loaded
    code, _, err = cli(*argv, "--pretrained", "--weights", str(source))
    assert (code, err) == (1, "--pretrained and --weights both name the weights to start from; give one\n")


def test_a_spec_that_extends_a_builtin_starts_from_its_weights(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, write: Callable[..., Path]
) -> None:
    _, state = _cached(tmp_path, monkeypatch, home)
    spec = write("netspec: 1\nextends: resnet18\nhead: {classes: 5}\n", "mine.yaml")
    model = netspec.build(spec, pretrained=True)
    assert model.fc.out_features == 5
    assert torch.equal(model.conv1.weight, state["conv1.weight"])
    loose = write("netspec: 1\nextends: cifar/resnet20\n", "loose.yaml")
    with pytest.raises(NetspecError, match=r"^--pretrained: 'cifar/resnet20' has no published weights; "):
        netspec.build(loose, pretrained=True)
    with pytest.raises(NetspecError, match=r"^--pretrained: a Spec object names no builtin spec; pretrained weights"):
        netspec.build(netspec.load_spec("resnet18"), pretrained=True)
