"""Round 3, downloads: at most a few redirects, to http(s) only; a server that trickles is given up; a download
ended by SIGTERM leaves nothing in the cache; each failure is one line."""

from __future__ import annotations

import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torchvision

import netspec
from netspec import pretrained
from netspec.errors import NetspecError
from netspec.pretrained import Weights

INPUT = {"size": 224, "resize": 256, "interpolation": "bilinear", "mean": [0.485, 0.456, 0.406]}
INPUT |= {"std": [0.229, 0.224, 0.225]}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("NETSPEC_OFFLINE", raising=False)
    monkeypatch.setenv("NETSPEC_DOWNLOAD_STALL", "1")
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture
def checkpoint(tmp_path: Path) -> bytes:
    path = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return path.read_bytes()


@pytest.fixture
def server(checkpoint: bytes) -> Iterator[tuple[str, int]]:
    """(base URL, an FTP-looking port that records whether anything connected to it)."""
    ftp = socket.socket()
    ftp.bind(("127.0.0.1", 0))
    ftp.listen()
    ftp.settimeout(0.5)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            routes = {
                "/loop": "/loop",
                "/ftp": f"ftp://127.0.0.1:{ftp.getsockname()[1]}/r18.pth",
                "/hop1": "/hop2",
                "/hop2": "/hop3",
                "/hop3": "/r18.pth",
                "/hop0": "/hop1",
            }
            if self.path in routes:
                self.send_response(302)
                self.send_header("Location", routes[self.path])
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(checkpoint)))
            self.end_headers()
            if self.path == "/r18.pth":
                self.wfile.write(checkpoint)
            elif self.path == "/trickle":  # a byte every fifth of a second, for ever
                for byte in checkpoint[:100]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
            elif self.path == "/hang":  # a good start, then nothing
                self.wfile.write(checkpoint[: 1 << 20])
                self.wfile.flush()
                time.sleep(30)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", ftp.fileno()
    httpd.shutdown()
    httpd.server_close()
    ftp.close()


def _publish(monkeypatch: pytest.MonkeyPatch, checkpoint: bytes, url: str) -> str:
    prefix = hashlib.sha256(checkpoint).hexdigest()[:8]
    file = f"resnet18-{prefix}.pth"
    row = Weights("resnet18", "a test", url, file, prefix, "MIT", 1000, None, INPUT)
    monkeypatch.setattr(pretrained, "table", lambda: {"resnet18": row})
    return file


def _refused(monkeypatch: pytest.MonkeyPatch, checkpoint: bytes, url: str, home: Path) -> str:
    file = _publish(monkeypatch, checkpoint, url)
    with pytest.raises(NetspecError) as raised:
        netspec.build("resnet18", pretrained=True)
    message = str(raised.value)
    prefix, suffix = f"resnet18: cannot download {url} (", f"); put {file} in {home} by hand"
    assert message.startswith(prefix) and message.endswith(suffix) and "\n" not in message, message
    assert not home.exists() or list(home.iterdir()) == []
    return message[len(prefix) : -len(suffix)]


def test_a_redirect_loop_is_one_line(
    monkeypatch: pytest.MonkeyPatch, checkpoint: bytes, server: tuple[str, int], home: Path
) -> None:
    reason = _refused(monkeypatch, checkpoint, f"{server[0]}/loop", home)
    assert reason == "more than 3 redirects (a loop?); the last was Found"


def test_three_redirects_are_followed_and_a_fourth_is_not(
    monkeypatch: pytest.MonkeyPatch, checkpoint: bytes, server: tuple[str, int], home: Path
) -> None:
    assert _refused(monkeypatch, checkpoint, f"{server[0]}/hop0", home).startswith("more than 3 redirects")
    file = _publish(monkeypatch, checkpoint, f"{server[0]}/hop1")
    netspec.build("resnet18", pretrained=True)
    assert [p.name for p in home.iterdir()] == [file]


def test_a_redirect_to_another_scheme_is_not_followed(
    monkeypatch: pytest.MonkeyPatch, checkpoint: bytes, server: tuple[str, int], home: Path
) -> None:
    reason = _refused(monkeypatch, checkpoint, f"{server[0]}/ftp", home)
    assert reason.startswith("a redirect to ftp://127.0.0.1:") and reason.endswith("/r18.pth, which is not https")
    listener = socket.socket(fileno=os.dup(server[1]))
    listener.settimeout(0.5)
    with pytest.raises(TimeoutError):  # nothing ever connected to the FTP port
        listener.accept()
    listener.close()


def test_a_redirect_from_https_down_to_http_is_not_followed() -> None:
    request = urllib.request.Request("https://example.invalid/w.pth")
    handler = pretrained._Redirects()
    with pytest.raises(urllib.error.URLError, match=r"a redirect to http://example.invalid/w.pth, which is not https"):
        handler.redirect_request(request, None, 302, "Found", {}, "http://example.invalid/w.pth")


def test_a_trickling_server_is_given_up(
    monkeypatch: pytest.MonkeyPatch, checkpoint: bytes, server: tuple[str, int], home: Path
) -> None:
    started = time.monotonic()
    reason = _refused(monkeypatch, checkpoint, f"{server[0]}/trickle", home)
    assert reason.endswith(" s: the server stalled") and time.monotonic() - started < 20, reason


def test_a_server_that_stops_sending_is_given_up(
    monkeypatch: pytest.MonkeyPatch, checkpoint: bytes, server: tuple[str, int], home: Path
) -> None:
    assert _refused(monkeypatch, checkpoint, f"{server[0]}/hang", home) == "timed out"


@pytest.mark.slow
def test_sigterm_mid_download_leaves_nothing_in_the_cache(
    tmp_path: Path, checkpoint: bytes, server: tuple[str, int], home: Path
) -> None:
    script = textwrap.dedent(f"""
        import sys
        from netspec import pretrained
        from netspec.cli import main
        from netspec.pretrained import Weights
        row = Weights("resnet18", "a test", "{server[0]}/hang", "resnet18-00000000.pth", "00000000", "MIT", 1000,
                      None, {INPUT!r})
        pretrained.table = lambda: {{"resnet18": row}}
        sys.exit(main(["build", "resnet18", "--pretrained"]))
    """)
    env = os.environ | {"TORCH_HOME": str(tmp_path / "torch"), "NETSPEC_DOWNLOAD_STALL": "20"}
    child = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # until the download has begun writing its temporary file
            if home.exists() and any(home.iterdir()):
                break
            time.sleep(0.05)
        assert next(p.name for p in home.iterdir()).startswith(".resnet18-00000000.pth.")
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert (child.returncode, err) == (143, "\nterminated\n")
    assert list(home.iterdir()) == []


@pytest.mark.slow
def test_a_temporary_file_left_by_a_harder_kill_is_cleared_once_stale(
    monkeypatch: pytest.MonkeyPatch, checkpoint: bytes, server: tuple[str, int], home: Path
) -> None:
    file = _publish(monkeypatch, checkpoint, f"{server[0]}/r18.pth")
    home.mkdir(parents=True)
    stale, fresh = home / f".{file}.abc.tmp", home / f".{file}.def.tmp"  # as the writer names them
    stale.write_bytes(b"part")
    fresh.write_bytes(b"part")
    os.utime(stale, (time.time() - 3, time.time() - 3))  # older than two stall windows (1 s each here)
    netspec.build("resnet18", pretrained=True)
    assert sorted(p.name for p in home.iterdir()) == sorted([file, fresh.name])  # a live download's is kept
