"""Serving inputs shared by every API worker through Redis: a series' inputs at a candle are built
once, by whichever worker (or universe pass) meets the series first, and read by the others
instead of computing its features again. After the universe pass at a candle, any universe coin's
first forecast on any worker finds its candles and its inputs ready.

Encoded without pickle (what Redis holds is read as data, never run): a JSON header, then the
float32 matrix. Every value comes back exactly as built, so a read forecast equals a built one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime

import numpy as np

from candlecast.modeling import CandleShape, ServingInputs
from candlecast.ops import GuardedRedis
from candlecast.serving.forecast import InputCache, SeriesInputs
from candlecast.serving.prediction_cache import candle_stamp

log = logging.getLogger(__name__)

# Entries name their candle, so an old one is never read for a newer candle; a day bounds what
# the slow timeframes (1w, 1M) keep between recomputations.
INPUTS_KEEP_SECONDS = 86_400
_HEADER_BYTES = 4


def inputs_key(key: tuple) -> str:
    """The Redis key of an input cache key (ticker, timeframe, last open, rows, model tag,
    market context fingerprint)."""
    ticker, timeframe_code, last_open, rows, model_tag, context = key
    digest = hashlib.sha1(repr(context).encode()).hexdigest()[:16]
    stamp = candle_stamp(last_open)
    return f"candlecast:inputs:{timeframe_code}:{ticker}:{model_tag}:{stamp}:{rows}:{digest}"


def inputs_bytes(inputs: SeriesInputs) -> bytes:
    matrix = np.ascontiguousarray(inputs.model_inputs.matrix, dtype=np.float32)
    header = json.dumps(
        {
            "shape": list(matrix.shape),
            "series_start": inputs.model_inputs.series_start,
            "sigma": inputs.model_inputs.sigma,
            "indicators": inputs.indicators,
            "candle_shape": [
                inputs.shape.last_close,
                inputs.shape.upper_wick,
                inputs.shape.lower_wick,
            ],
            "opens": [o.isoformat() for o in inputs.opens],
        }
    ).encode()
    return len(header).to_bytes(_HEADER_BYTES, "big") + header + matrix.tobytes()


def inputs_from_bytes(payload: bytes) -> SeriesInputs:
    """Raises ValueError for a payload of another form."""
    size = int.from_bytes(payload[:_HEADER_BYTES], "big")
    try:
        header = json.loads(payload[_HEADER_BYTES : _HEADER_BYTES + size])
        matrix = np.frombuffer(payload[_HEADER_BYTES + size :], dtype=np.float32)
        matrix = matrix.reshape(header["shape"]).copy()
        return SeriesInputs(
            ServingInputs(matrix, int(header["series_start"]), float(header["sigma"])),
            dict(header["indicators"]),
            CandleShape(*(float(v) for v in header["candle_shape"])),
            tuple(datetime.fromisoformat(o) for o in header["opens"]),
        )
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"not serving inputs: {error}") from error


class SharedInputCache(InputCache):
    """The worker's input cache in front of Redis: memory, then Redis, then build (and share).
    Without Redis it is the worker's own cache; size 0 builds every time and shares nothing."""

    def __init__(
        self, redis: GuardedRedis, size: int, keep_seconds: int = INPUTS_KEEP_SECONDS
    ) -> None:
        super().__init__(size)
        self.redis = redis
        self.keep_seconds = keep_seconds

    def get(self, key: tuple, build: Callable[[], SeriesInputs]) -> SeriesInputs:
        if self._entries.size == 0:
            return build()
        entry = self._entries.get(key)
        if entry is None:
            shared_key = inputs_key(key)
            entry = self._shared(shared_key) or self._build_and_share(shared_key, build)
            self._entries.put(key, entry)
        return entry

    def _shared(self, shared_key: str) -> SeriesInputs | None:
        payload = self.redis.call("get", shared_key)
        if payload is None:
            return None
        try:
            return inputs_from_bytes(payload)
        except ValueError as error:  # another form: built again and overwritten
            log.warning("shared inputs %s unreadable: %s", shared_key, error)
            return None

    def _build_and_share(self, shared_key: str, build: Callable[[], SeriesInputs]) -> SeriesInputs:
        entry = build()
        self.redis.call("set", shared_key, inputs_bytes(entry), ex=self.keep_seconds)
        return entry
