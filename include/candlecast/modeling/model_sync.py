"""Models through the object store, so a Bento replica on any host needs no shared disk.

Training publishes each version it registers: `bentoml.models.export_model` to a `.bentomodel`
archive, uploaded whole to `<CANDLECAST_STORE_URL>/models/<name>/<version>.bentomodel` beside its
manifest `<version>.json` (tag, SHA-256, size). Each timeframe's pointer `<name>/serving.json`
names its champion: switched by a conditional write when a version becomes champion (a first
version, a promotion, a rollback), never back to an older release decision. A Bento starting on
another host imports each champion (from PostgreSQL; the pointers when it cannot say) into its
local model store, checksum verified, once, under a lock; a worker that swaps to a new champion
imports it the same way first. Unset CANDLECAST_STORE_URL: nothing happens.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from candlecast.modeling.registry import model_name, use_model_store
from candlecast.ops.s3_client import ObjectStore, WriteConflict
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


def _manifest_key(tag: str) -> str:
    name, _, version = tag.partition(":")
    return f"{name}/{version}.json"


def publish_model(settings: Settings, tag: str) -> dict | None:
    """Upload a stored version with its manifest (the pointer is `point_at`'s)."""
    objects = model_objects(settings)
    if objects is None:
        return None
    use_model_store(settings)
    import bentoml

    name, _, version = tag.partition(":")
    with tempfile.TemporaryDirectory(prefix="cc-model-") as folder:
        archive = Path(folder) / f"{version}.bentomodel"
        bentoml.models.export_model(tag, str(archive))
        manifest = {
            "tag": tag,
            "archive": f"{name}/{version}.bentomodel",
            "sha256": _sha256(archive),
            "bytes": archive.stat().st_size,
            "published_at": pd.Timestamp.now(tz="UTC").isoformat(),
        }
        objects.upload_file(manifest["archive"], archive)
    objects.put(_manifest_key(tag), json.dumps(manifest).encode())
    log.info("published %s to %s", tag, objects.uri(manifest["archive"]))
    return manifest


def point_at(settings: Settings, tag: str, decided_at: str | None = None) -> bool:
    """Point the timeframe at its new champion `tag` (published first if it never was; it must
    then be in the local model store). `decided_at`, the
    release decision's time, keeps a late writer of an older decision from winning; returns
    whether the pointer now names `tag`."""
    objects = model_objects(settings)
    if objects is None:
        return False
    blob = objects.get(_manifest_key(tag))
    if blob is None:  # trained before the stores moved to the object store
        publish_model(settings, tag)
        blob = objects.get(_manifest_key(tag))
    decided_at = decided_at or pd.Timestamp.now(tz="UTC").isoformat()
    pointer = {**json.loads(blob.data), "decided_at": decided_at}
    key = f"{tag.partition(':')[0]}/{POINTER}"
    while True:
        current = objects.get(key)
        if current is not None:
            named = json.loads(current.data)
            if pd.Timestamp(named.get("decided_at", named.get("published_at"))) > pd.Timestamp(
                decided_at
            ):
                log.info("%s: a later decision points at %s", tag, named["tag"])
                return named["tag"] == tag
        try:
            objects.put(key, json.dumps(pointer).encode(), expected=current)
        except WriteConflict:
            continue
        log.info("%s now points at %s", key, tag)
        return True


def _champions(settings: Settings, objects: ObjectStore) -> dict[str, str]:
    """Each timeframe's champion: PostgreSQL's word, else the pointers'."""
    import psycopg

    from candlecast.modeling import releases
    from candlecast.ops import db

    try:
        with db.connect(settings) as conn:
            return releases.champion_tags(conn)
    except psycopg.OperationalError as error:
        log.warning("champions from the object store's pointers: %s", error)
    champions = {}
    for timeframe in TIMEFRAMES.values():
        blob = objects.get(f"{model_name(timeframe)}/{POINTER}")
        if blob is not None:
            champions[timeframe.code] = json.loads(blob.data)["tag"]
    return champions


def pull_version(settings: Settings, tag: str) -> bool:
    """Import a published version the local model store lacks (checksum verified, under a lock
    shared by the Bento's workers); returns whether it was imported."""
    objects = model_objects(settings)
    if objects is None:
        return False
    use_model_store(settings)
    import bentoml
    from bentoml.exceptions import NotFound

    home = Path(os.environ["BENTOML_HOME"])
    with open(home / ".candlecast-import.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the Bento's workers start together
        try:
            bentoml.models.get(tag)
            return False
        except NotFound:
            pass
        blob = objects.get(_manifest_key(tag))
        if blob is None:
            raise LookupError(f"{tag} is not published at {objects.uri(_manifest_key(tag))}")
        manifest = json.loads(blob.data)
        with tempfile.TemporaryDirectory(prefix="cc-model-") as folder:
            archive = Path(folder) / "model.bentomodel"
            objects.download_file(manifest["archive"], archive)
            if _sha256(archive) != manifest["sha256"]:
                raise RuntimeError(
                    f"{objects.uri(manifest['archive'])} does not match the SHA-256 its "
                    "manifest names: not imported"
                )
            bentoml.models.import_model(str(archive))
    log.info("imported %s from %s", tag, objects.uri(manifest["archive"]))
    return True


def pull_models(settings: Settings, tags: Iterable[str] | None = None) -> list[str]:
    """Import each timeframe's champion (or the versions `tags` names: a pinned Bento's) that
    the local model store lacks; returns the tags imported. A timeframe without one (never
    trained) is left to the loader."""
    objects = model_objects(settings)
    if objects is None:
        return []
    wanted = list(tags) if tags is not None else list(_champions(settings, objects).values())
    return [tag for tag in wanted if pull_version(settings, tag)]


def pinned_versions() -> set[str]:
    """The model tags the Bentos of the local Bento store carry (`make bento` pins champions)."""
    import bentoml

    return {str(model.tag) for bento in bentoml.bentos.list() for model in bento.info.models}


def unpublish(settings: Settings, tags: Iterable[str]) -> list[str]:
    """Remove pruned versions' published copies (archive and manifest), never one a pointer
    names (a champion) nor one a pinned Bento of this host carries; returns the tags removed."""
    objects = model_objects(settings)
    if objects is None:
        return []
    use_model_store(settings)
    kept = pinned_versions()
    removed = []
    for tag in tags:
        name, _, version = tag.partition(":")
        pointer = objects.get(f"{name}/{POINTER}")
        if tag in kept or (pointer is not None and json.loads(pointer.data)["tag"] == tag):
            log.info("%s is served or pinned: its published copy stays", tag)
            continue
        objects.delete(f"{name}/{version}.bentomodel")
        objects.delete(_manifest_key(tag))
        removed.append(tag)
    return removed
