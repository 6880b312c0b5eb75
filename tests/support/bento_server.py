"""`bentoml serve` on a free loopback port for the life of a `with` (tests and benchmarks),
and a polling helper."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SOURCE_SERVICE = "bento.service:Candlecast"
READY_SECONDS = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def workers(env: dict) -> int:
    """The worker processes `bentoml serve` starts with `env` (CANDLECAST_API_WORKERS)."""
    from candlecast.settings import Settings

    default = Settings.model_fields["candlecast_api_workers"].default
    return int(env.get("CANDLECAST_API_WORKERS", default))


def eventually(check: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.2)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def running_bento(
    env: dict,
    log_path: Path,
    target: str = SOURCE_SERVICE,
    cwd: Path = PROJECT_DIR,
    ready_seconds: float = READY_SECONDS,
) -> Iterator[str]:
    """Serve `target` until the block ends; yields its URL. The server's output goes to
    `log_path`; its tail is in the failure when it does not become ready."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(BIN / "bentoml"), "serve", target, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_seconds
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"bentoml serve {target} did not start:\n{log_path.read_text()[-5000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def keys_command(env: dict, *args: str) -> subprocess.CompletedProcess:
    """`candlecast keys ...` as an operator runs it against the stack `env` describes."""
    return subprocess.run(
        [str(BIN / "candlecast"), "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
