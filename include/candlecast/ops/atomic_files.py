"""Files written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _plain_file_mode() -> int:
    """The mode `open(path, "w")` would give a new file: 0o666 less the process's umask."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    return 0o644


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """`write` fills a temporary file beside `path`, which is flushed to disk and renamed over
    `path`: a crash or an exception mid-write leaves any earlier file at `path` as it was, and
    no temporary file behind. The file gets the mode a plain write would give it (a temporary
    file's is owner-only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), _plain_file_mode())
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
