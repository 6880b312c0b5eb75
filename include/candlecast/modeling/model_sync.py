"""Models through the object store, so a Bento replica on any host needs no shared disk.

Training publishes each version it registers: `bentoml.models.export_model` to a `.bentomodel`
archive, uploaded whole to `<CANDLECAST_STORE_URL>/models/<name>/<version>.bentomodel`, then the
timeframe's pointer `<name>/serving.json` (tag, SHA-256 of the archive) is switched to it by a
conditional write, and only to a newer version. A Bento starting on another host reads each
pointer and imports the version it names into its local model store (checksum verified, once,
under a lock) before it loads its models. Unset CANDLECAST_STORE_URL: nothing happens.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import pandas as pd

from candlecast.modeling.registry import model_name, use_model_store
from candlecast.ops.objectstore import ObjectStore, WriteConflict
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES

log = logging.getLogger(__name__)

POINTER = "serving.json"


def model_objects(settings: Settings) -> ObjectStore | None:
    if not settings.candlecast_store_url:
        return None
    return ObjectStore(settings.candlecast_store_url.rstrip("/") + "/models")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def publish_model(settings: Settings, tag: str) -> dict | None:
    """Upload a stored version and point its timeframe at it (unless a newer one is there)."""
    objects = model_objects(settings)
    if objects is None:
        return None
    use_model_store(settings)
    import bentoml

    name, _, version = tag.partition(":")
    with tempfile.TemporaryDirectory(prefix="cc-model-") as folder:
        archive = Path(folder) / f"{version}.bentomodel"
        bentoml.models.export_model(tag, str(archive))
        pointer = {
            "tag": tag,
            "archive": f"{name}/{version}.bentomodel",
            "sha256": _sha256(archive),
            "bytes": archive.stat().st_size,
            "published_at": pd.Timestamp.now(tz="UTC").isoformat(),
        }
        objects.upload_file(pointer["archive"], archive)
    while True:
        current = objects.get(f"{name}/{POINTER}")
        if current is not None and json.loads(current.data)["tag"].partition(":")[2] >= version:
            log.info("%s: the object store already serves %s", tag, json.loads(current.data)["tag"])
            return pointer
        try:
            objects.put(f"{name}/{POINTER}", json.dumps(pointer).encode(), expected=current)
        except WriteConflict:
            continue
        log.info("published %s to %s", tag, objects.uri(pointer["archive"]))
        return pointer


def pull_models(settings: Settings) -> list[str]:
    """Import each timeframe's published version that the local model store lacks; returns the
    tags imported. A missing pointer (a timeframe never trained) is left to the loader."""
    objects = model_objects(settings)
    if objects is None:
        return []
    use_model_store(settings)
    import bentoml
    from bentoml.exceptions import NotFound

    home = Path(os.environ["BENTOML_HOME"])
    imported = []
    for timeframe in TIMEFRAMES.values():
        blob = objects.get(f"{model_name(timeframe)}/{POINTER}")
        if blob is None:
            continue
        pointer = json.loads(blob.data)
        with open(home / ".candlecast-import.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the Bento's workers start together
            try:
                bentoml.models.get(pointer["tag"])
                continue
            except NotFound:
                pass
            with tempfile.TemporaryDirectory(prefix="cc-model-") as folder:
                archive = Path(folder) / "model.bentomodel"
                objects.download_file(pointer["archive"], archive)
                if _sha256(archive) != pointer["sha256"]:
                    raise RuntimeError(
                        f"{objects.uri(pointer['archive'])} does not match the SHA-256 its "
                        "pointer names: not imported"
                    )
                bentoml.models.import_model(str(archive))
        log.info("imported %s from %s", pointer["tag"], objects.uri(pointer["archive"]))
        imported.append(pointer["tag"])
    return imported
