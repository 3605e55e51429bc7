"""Round 3, files: checkpoints whose zip members inflate to gigabytes, float8 weights, `extends` that would open a
secret, and model files whose embedded spec is not text or is empty. Each refusal is one line, in bounded memory."""

from __future__ import annotations

import json
import os
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save

import netspec
from netspec.modelfile import metadata
from tests.bombs import checkpoint_bomb
from tests.measure import GiB, measured

Cli = Callable[..., tuple[int, str, str]]
SECRET = "API_KEY=sk-live-1234\n"
REFUSED = "must be a builtin spec name or a relative path to a .yaml or .yml file"


@pytest.mark.slow
def test_a_small_checkpoint_that_inflates_to_gigabytes_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = checkpoint_bomb("fc.weight", (2 << 30) // 4)  # 2 GiB of zeros: torch.load alone peaks near 2.9 GB
    assert len(bomb) < 3 << 20
    (tmp_path / "bomb.pt").write_bytes(bomb)
    run = measured(["build", "resnet18", "--weights", "bomb.pt"], tmp_path)
    inflated = sum(member.file_size for member in zipfile.ZipFile(tmp_path / "bomb.pt").infolist())
    # The cap: 32 bytes per value of the model's state, plus 64 MiB (docs/security.md), for torchvision's resnet18.
    cap = 32 * sum(t.numel() for t in torchvision.models.resnet18().state_dict().values()) + (64 << 20)
    message = f"inflates to {inflated:,} bytes, more than any checkpoint of this model ({cap:,} bytes at most)"
    assert (run.code, run.err) == (1, f"bomb.pt: {message}\n")
    assert run.peak < 2 * GiB and run.seconds < 20, run


def test_a_float8_checkpoint_loads_widened(tmp_path: Path) -> None:
    model = netspec.build("cifar/resnet20")
    narrow = {k: v.to(torch.float8_e4m3fn) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    (tmp_path / "w.safetensors").write_bytes(save(narrow, metadata(netspec.load_spec("cifar/resnet20"))))
    loaded = netspec.load(tmp_path / "w.safetensors")
    for key, value in loaded.state_dict().items():
        assert value.dtype == model.state_dict()[key].dtype
        assert torch.equal(value, narrow[key].to(value.dtype)), key


@pytest.mark.parametrize(
    ("make", "ref", "message"),
    [
        (lambda d: (d / ".env").write_text(SECRET), ".env", f"'.env' {REFUSED}"),
        (lambda d: (d / "config").symlink_to(d / ".env"), "config", f"'config' {REFUSED}"),
        (
            lambda d: (d / "shared.yaml").symlink_to(d / ".env"),
            "shared.yaml",
            "'shared.yaml' leads to .env, which is not a .yaml or .yml file",
        ),
        (lambda d: None, "m.safetensors", f"'m.safetensors' {REFUSED}"),
        (lambda d: None, "resnet18.yaml.bak", f"'resnet18.yaml.bak' {REFUSED}; did you mean 'resnet18'?"),
    ],
    ids=["dotenv", "link-without-suffix", "yaml-link-to-dotenv", "model-file", "backup"],
)
def test_extends_opens_only_builtins_and_yaml_files_and_never_shows_a_refused_one(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, make: Callable[[Path], object], ref: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(SECRET)
    (tmp_path / "resnet18.yaml.bak").write_text(SECRET)
    assert cli("build", "cifar/resnet20", "-o", "m.safetensors")[0] == 0
    make(tmp_path)
    (tmp_path / "child.yaml").write_text(f"netspec: 1\nextends: {ref}\n")
    opened: list[str] = []
    real = os.open

    def watched(path: object, *args: object, **kwargs: object) -> int:
        opened.append(os.fspath(path))  # type: ignore[arg-type]
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", watched)
    code, out, err = cli("validate", "child.yaml")
    monkeypatch.undo()
    assert (code, out, err) == (1, "", f"child.yaml:2:10: extends: {message}\n")
    assert "sk-live" not in err
    assert not [p for p in opened if Path(p).name in (".env", "config", "m.safetensors", "resnet18.yaml.bak")]


def test_a_file_that_is_not_a_spec_is_named_by_its_kind_not_its_content(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / ".env").write_text(SECRET)
    code, _, err = cli("validate", str(tmp_path / ".env"))
    message = "a spec must be a mapping of fields (netspec, name, stages, ...), got a string"
    assert (code, err) == (1, f"{tmp_path / '.env'}:1:1: {message}\n")
    code, _, err = cli("train", "cifar/resnet20", "--config", str(tmp_path / ".env"))
    message = "training settings must be a mapping of fields (epochs, lr, ...), got a string"
    assert (code, err) == (1, f"{tmp_path / '.env'}:1:1: {message}\n")


def _header_only(path: Path, meta: dict[str, str], escaped: str | None = None) -> None:
    """A safetensors file of one tensor whose metadata is `meta`; `escaped` replaces the JSON text of its spec."""
    text = json.dumps({"__metadata__": meta, "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
    if escaped is not None:
        text = text.replace(json.dumps(meta["netspec.spec"]), escaped)
    header = text.encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))


def test_a_lone_surrogate_in_the_embedded_spec_is_one_line(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "m.safetensors"
    _header_only(path, {"netspec.spec": "x"}, escaped='"netspec: 1\\nname: \\ud800\\n"')
    for command in (["summary", str(path)], ["build", str(path)], ["validate", str(path)]):
        code, out, err = cli(*command)
        assert (code, out, err) == (
            1,
            "",
            f"{path}: its header's 'netspec.spec' holds U+D800, a lone surrogate, not text\n",
        )


def test_an_empty_embedded_spec_is_named_as_the_embedded_spec(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "m.safetensors"
    _header_only(path, {"netspec.spec": "# nothing but a comment\n"})
    code, _, err = cli("summary", str(path))
    assert (code, err) == (1, f"{path} (spec):1:1: empty document: the file's netspec.spec metadata holds no spec\n")
