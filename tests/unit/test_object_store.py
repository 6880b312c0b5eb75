"""The Parquet store on an S3-compatible object store (a real moto server on loopback): the same
series as on local disk, written whole or not at all, and concurrent writers ordered by
conditional writes so no candle is lost."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from candlecast.ohlcv import CandleStore, ObjectCandleStore, open_store
from candlecast.ops.s3_client import ObjectStore, WriteConflict, parse_s3_url
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES
from tests.support.cutting_proxy import CuttingProxy

from .sample_frames import sample_candles

HOUR, DAY = TIMEFRAMES["1h"], TIMEFRAMES["1d"]
PAIRS = ("X:BTCUSDT", "X:ETHUSDT", "X:SOLUSDT")


def test_series_round_trip_like_the_local_store(store_url, tmp_path):
    remote, local = open_store(store_url), open_store(tmp_path / "store")
    assert isinstance(remote, ObjectCandleStore) and type(local) is CandleStore
    for code in TIMEFRAMES:
        frame = sample_candles(code, ticker="X:BNBUSDT", n=300)
        remote.write("X:BNBUSDT", TIMEFRAMES[code], frame)
        pd.testing.assert_frame_equal(remote.read("X:BNBUSDT", TIMEFRAMES[code]), frame)
    for pair in PAIRS:
        frame = sample_candles("1h", ticker=pair, n=400)
        remote.write(pair, HOUR, frame)
        local.write(pair, HOUR, frame)
    assert remote.tickers(HOUR) == sorted([*local.tickers(HOUR), "X:BNBUSDT"])
    assert local.tickers(HOUR) == sorted(PAIRS)
    pd.testing.assert_frame_equal(
        remote.read_many([*PAIRS, "X:NOPE"], HOUR), local.read_many([*PAIRS, "X:NOPE"], HOUR)
    )
    assert remote.series_info("X:ETHUSDT", HOUR) == local.series_info("X:ETHUSDT", HOUR)
    assert remote.last_timestamp("X:SOLUSDT", HOUR) == local.last_timestamp("X:SOLUSDT", HOUR)
    assert remote.row_count("X:SOLUSDT", HOUR) == 400
    assert remote.exists("X:BTCUSDT", HOUR) and not remote.exists("X:BTCUSDT", DAY)
    assert remote.read("X:NOPE", DAY).empty and remote.last_timestamp("X:NOPE", DAY) is None
    assert remote.location("X:BTCUSDT", HOUR) == f"{store_url}/1h/X_BTCUSDT.parquet"


def test_merge_write_is_incremental_and_idempotent(store_url):
    store = open_store(store_url)
    frame = sample_candles("1d", ticker="X:ETHUSDT", n=120)
    assert store.merge_write("X:ETHUSDT", DAY, frame.iloc[:100]) == (True, 100)
    assert store.merge_write("X:ETHUSDT", DAY, frame.iloc[90:]) == (True, 120)
    assert store.merge_write("X:ETHUSDT", DAY, frame.iloc[110:]) == (False, 120)
    keep_from = frame["timestamp"].iloc[20]
    assert store.merge_write("X:ETHUSDT", DAY, frame.iloc[:0], keep_from) == (True, 100)
    pd.testing.assert_frame_equal(
        store.read("X:ETHUSDT", DAY), frame.iloc[20:].reset_index(drop=True)
    )


def test_a_write_based_on_a_stale_read_is_refused(store_url):
    objects = ObjectStore(store_url)
    assert objects.get("k") is None
    objects.put("k", b"first", expected=None)  # a first write: only if nothing is there
    read = objects.get("k")
    objects.put("k", b"second", expected=read)  # another writer lands
    with pytest.raises(WriteConflict):
        objects.put("k", b"lost update", expected=read)
    with pytest.raises(WriteConflict):
        objects.put("k", b"not first", expected=None)
    assert objects.get("k").data == b"second"


_DYING_WRITER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import pyarrow.parquet as pq
from candlecast.ohlcv import open_store
from candlecast.timeframes import TIMEFRAMES
from sample_frames import sample_candles
def dying_write(table, where, **kw):
    where.write(b"PAR1 partial bytes")
    os.kill(os.getpid(), signal.SIGKILL)
pq.write_table = dying_write
open_store({url!r}).write("X:BTCUSDT", TIMEFRAMES["1h"], sample_candles("1h", n=2000))
"""


def test_a_writer_killed_mid_write_leaves_the_previous_object(store_url):
    store = open_store(store_url)
    frame = sample_candles("1h", n=1000)
    store.write("X:BTCUSDT", HOUR, frame)
    code = _DYING_WRITER.format(tests=str(Path(__file__).parent), url=store_url)
    assert subprocess.run([sys.executable, "-c", code]).returncode == -9
    pd.testing.assert_frame_equal(store.read("X:BTCUSDT", HOUR), frame)


def test_an_upload_cut_off_mid_body_is_never_published(store_url, s3):
    """What a writer dying mid-PUT (or a dropped connection) looks like on the wire."""
    store = open_store(store_url)
    frame = sample_candles("1d", n=200)
    store.write("X:BTCUSDT", DAY, frame)
    bucket, prefix = parse_s3_url(store_url)
    endpoint = urlsplit(s3.endpoint)
    with socket.create_connection((endpoint.hostname, endpoint.port)) as raw:
        raw.sendall(
            f"PUT /{bucket}/{prefix}/store/1d/X_BTCUSDT.parquet HTTP/1.1\r\n"
            f"Host: {endpoint.netloc}\r\nContent-Length: 100000\r\n\r\n".encode()
            + b"PAR1 only the first bytes"
        )
    pd.testing.assert_frame_equal(store.read("X:BTCUSDT", DAY), frame)


def test_our_writer_cut_off_mid_upload_fails_and_publishes_nothing(store_url, s3, monkeypatch):
    """The same through our writer: `ObjectCandleStore.write` whose every PUT (its retries too)
    loses the connection after 1 kB of the body, by a proxy in front of the S3 server."""
    store = open_store(store_url)
    frame = sample_candles("1d", n=200)
    store.write("X:BTCUSDT", DAY, frame)
    endpoint = urlsplit(s3.endpoint)
    with CuttingProxy((endpoint.hostname, endpoint.port), body_bytes=1000) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)  # a client of its own
        cut_off = open_store(store_url)
        with pytest.raises((BotoCoreError, ClientError, OSError)):
            cut_off.write("X:BTCUSDT", DAY, sample_candles("1d", n=300))
        assert proxy.cut >= 1  # the writer's upload was cut, not refused before it began
    pd.testing.assert_frame_equal(store.read("X:BTCUSDT", DAY), frame)


_WRITER = """
import sys
import pandas as pd
from candlecast.ohlcv import open_store
from candlecast.timeframes import TIMEFRAMES
store, offset = open_store(sys.argv[1]), int(sys.argv[2])
frame = pd.read_parquet(sys.argv[3])
for i in range(offset, len(frame), 2):  # every other candle, one merge each
    store.merge_write("X:BTCUSDT", TIMEFRAMES["1h"], frame.iloc[[i]])
"""


def test_two_concurrent_writers_on_one_series_lose_nothing(store_url, tmp_path):
    frame = sample_candles("1h", n=40).reset_index(drop=True)
    frame.to_parquet(tmp_path / "candles.parquet", index=False)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, store_url, str(k), str(tmp_path / "candles.parquet")]
        )
        for k in (0, 1)
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    pd.testing.assert_frame_equal(open_store(store_url).read("X:BTCUSDT", HOUR), frame)


def test_bad_store_urls_are_refused_with_their_reason():
    with pytest.raises(ValidationError, match="candlecast_store_url"):
        Settings(_env_file=None, candlecast_store_url="s3://")
    with pytest.raises(ValidationError, match="candlecast_store_url"):
        Settings(_env_file=None, candlecast_store_url="/var/lib/store")
    with pytest.raises(ValueError, match="not an object store URL"):
        parse_s3_url("gs://bucket/x")
    with pytest.raises(ValueError, match="expected 's3://bucket"):
        parse_s3_url("s3://bucket/a/../b")
    settings = Settings(_env_file=None, candlecast_store_url="s3://bucket/prod/")
    assert settings.store_location == "s3://bucket/prod/store"
    assert Settings(_env_file=None, candlecast_home=Path("/x")).store_location == Path("/x/store")


def test_held_candles_live_beside_the_store_and_read_back_anywhere(store_url, tmp_path):
    from candlecast.ohlcv.ingest import hold_in_quarantine
    from candlecast.ohlcv.quarantine_review import held_candles

    settings = Settings(_env_file=None, candlecast_home=tmp_path, candlecast_store_url=store_url)
    held = sample_candles(n=3)
    where = hold_in_quarantine(
        settings.quarantine_location, "X:BTCUSDT", HOUR, "run 1", held, {"why": "a test"}
    )
    assert where == f"{store_url}/quarantine/{HOUR.slug}/X_BTCUSDT/run_1.parquet"
    assert list(tmp_path.rglob("*.parquet")) == []  # nothing on this host's disk
    pd.testing.assert_frame_equal(held_candles({"id": 1, "path": where}), held)
    reasons = ObjectStore(f"{store_url}/quarantine").get(f"{HOUR.slug}/X_BTCUSDT/run_1.json")
    assert b'"why": "a test"' in reasons.data
