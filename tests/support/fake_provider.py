"""A loopback HTTP server that speaks the Polygon/Massive wire contract, with fault injection.

Serves candles from a folder in the sample layout (`<timeframe>/<PAIR>.parquet`; the sample or
the real 50-pair universe, `tests/data/universe`) as tickers `X:<PAIR>`; weeks and months are
asked of it as daily bars, as the client does. Real sockets, real HTTP: the client under test
cannot tell it from the provider, except that it can be told to misbehave (see `Faults`:
scripted faults, 429 storms for a duration, an empty grouped-daily answer).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pandas as pd

from tests.support.loopback import LoopbackServer

TIMESPAN_FILES = {
    ("1", "hour"): "1h",
    ("4", "hour"): "4h",
    ("1", "day"): "1d",
    ("1", "week"): "1w",
    ("1", "month"): "1M",
}
RATE_LIMIT_TEXT = (
    "You've exceeded the maximum requests per minute, please wait or upgrade your "
    "subscription to continue. https://massive.com/pricing"
)
NGINX_504 = (
    b"<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 "
    b"Gateway Time-out</h1></center><hr><center>nginx/1.19.2</center></body></html>"
)


@dataclass
class Fault:
    route: str  # tickers | aggs | grouped | any
    kind: str  # status | html | drop | slow | malformed | empty | null
    times: int = 1
    status: int = 500
    delay_s: float = 0.0


@dataclass
class Faults:
    api_key: str = "test-key"
    latency_s: float = 0.0
    rate_limit: int | None = None  # requests per rolling window
    rate_window_s: float = 60.0
    forbidden_timespans: set[str] = field(default_factory=set)
    page_limit_cap: int | None = None  # serve at most this many bars per page
    script: list[Fault] = field(default_factory=list)
    storm_until: float | None = None  # on the fake's clock: every request answered 429 until then
    storm_retry_after: int | None = None  # Retry-After (seconds) sent with a storm's 429s
    grouped_empty: bool = False  # grouped daily answers no results (a day not published yet)


class FakeProvider(LoopbackServer):
    """`clock` (time.monotonic by default) stamps the arrivals and times storms and the rate
    window: a test that moves a clock by hand passes the client's clock here too."""

    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.data_dir = Path(data_dir)
        self.clock = clock
        self.faults = Faults()
        self.lock = threading.Lock()
        self.arrivals: deque[float] = deque()
        self.log: list[list] = []  # [arrival time, path, status (0: dropped, None: pending)]
        self.storm_hits: set[int] = set()  # ids of the log entries a storm answered
        super().__init__(type("Handler", (_Handler,), {"fake": self}))

    def pairs(self) -> list[str]:
        return sorted(p.stem for p in (self.data_dir / "1d").glob("*.parquet"))

    def requests(self, route: str | None = None) -> list[tuple[float, str, int | None]]:
        with self.lock:
            return [tuple(r) for r in self.log if route is None or route in r[1]]

    def max_in_window(self, window_s: float) -> int:
        """Most requests that arrived in any rolling window (for limiter checks)."""
        stamps = sorted(t for t, _, _ in self.requests())
        best, left = 0, 0
        for right, stamp in enumerate(stamps):
            while stamp - stamps[left] >= window_s:
                left += 1
            best = max(best, right - left + 1)
        return best

    def storm(self, seconds: float, retry_after: int | None = None) -> None:
        """Answer every request with 429 for `seconds` from the next request on (a rate-limit
        window: a client process may take a while to start)."""
        with self.lock:
            self.faults.storm_retry_after = retry_after
            self.faults.storm_until = None
            self.storm_seconds = seconds

    def in_storm(self) -> bool:
        with self.lock:
            now = self.clock()
            if getattr(self, "storm_seconds", None):
                self.faults.storm_until, self.storm_seconds = now + self.storm_seconds, None
            until = self.faults.storm_until
            return until is not None and now < until

    def storm_answers(self) -> list[float]:
        """Arrival times of the requests a storm answered 429."""
        with self.lock:
            return [e[0] for e in self.log if e[2] == 429 and id(e) in self.storm_hits]

    def _take_fault(self, route: str) -> Fault | None:
        with self.lock:
            for fault in self.faults.script:
                if fault.times > 0 and fault.route in (route, "any"):
                    fault.times -= 1
                    return fault
        return None

    def _rate_limited(self) -> bool:
        if self.faults.rate_limit is None:
            return False
        now = self.clock()
        with self.lock:
            while self.arrivals and now - self.arrivals[0] >= self.faults.rate_window_s:
                self.arrivals.popleft()
            if len(self.arrivals) >= self.faults.rate_limit:
                return True
            self.arrivals.append(now)
        return False

    # --- endpoints -------------------------------------------------------------------------

    def tickers_page(self, query: dict) -> dict:
        if "cursor" in query:
            state = json.loads(base64.urlsafe_b64decode(query["cursor"] + "==").decode())
            offset, limit = state["offset"], state["limit"]
        else:
            offset, limit = 0, min(int(query.get("limit", 100)), 1000)
        pairs = self.pairs()
        page = pairs[offset : offset + limit]
        results = [
            {
                "ticker": f"X:{p}",
                "name": f"{p[:-4]} - Tether",
                "market": "crypto",
                "locale": "global",
                "active": True,
                "currency_symbol": p[-4:],
                "currency_name": "Tether",
                "base_currency_symbol": p[:-4],
                "base_currency_name": p[:-4],
                "last_updated_utc": "2017-01-01T00:00:00Z",
            }
            for p in page
        ]
        body = {"results": results, "status": "OK", "count": len(results)}
        if offset + limit < len(pairs):
            cursor = (
                base64.urlsafe_b64encode(
                    json.dumps({"offset": offset + limit, "limit": limit}).encode()
                )
                .decode()
                .rstrip("=")
            )
            body["next_url"] = (
                f"{self.base_url}/v3/reference/tickers?cursor={cursor}&apiKey=LEAKED_KEY"
            )
        return body

    def grouped(self, day: str) -> dict:
        start = pd.Timestamp(day, tz="UTC")
        results = []
        for pair in [] if self.faults.grouped_empty else self.pairs():
            frame = _frame(self.data_dir / "1d" / f"{pair}.parquet")
            row = frame[frame["timestamp"] == start]
            if not row.empty:
                results.append({"T": f"X:{pair}", **_bar(row.iloc[0])})
        body = {
            "status": "OK",
            "queryCount": len(results),
            "resultsCount": len(results),
            "adjusted": True,
        }
        if results:
            body["results"] = results
        return body

    def aggregates(self, path: str, query: dict) -> tuple[int, dict]:
        parts = path.split("/")  # /v2/aggs/ticker/{T}/range/{m}/{ts}/{from}/{to}
        ticker, multiplier, timespan, start, end = parts[4], parts[6], parts[7], parts[8], parts[9]
        if timespan in self.faults.forbidden_timespans:
            return 403, {
                "status": "NOT_AUTHORIZED",
                "message": "You are not entitled to this "
                "data. Please upgrade your plan at https://massive.com/pricing",
            }
        code = TIMESPAN_FILES.get((multiplier, timespan))
        if code is None:
            return 400, {"status": "ERROR", "error": f"unsupported range {multiplier}/{timespan}"}
        try:
            start_ts, end_ts = _parse_time(start, False), _parse_time(end, True)
        except ValueError:
            return 400, {
                "status": "ERROR",
                "error": "Could not parse the time parameter: 'from'. "
                "Use YYYY-MM-DD or Unix MS Timestamps",
            }
        file = self.data_dir / code / f"{ticker.removeprefix('X:')}.parquet"
        body = {"ticker": ticker, "adjusted": True, "status": "OK"}
        if not file.exists():
            return 200, {**body, "queryCount": 0, "resultsCount": 0}
        frame = _frame(file)
        frame = frame[(frame["timestamp"] >= start_ts) & (frame["timestamp"] <= end_ts)]
        limit = min(int(query.get("limit", 5000)), 50000)
        if self.faults.page_limit_cap:
            limit = min(limit, self.faults.page_limit_cap)
        page, rest = frame.iloc[:limit], frame.iloc[limit:]
        body.update(queryCount=len(page), resultsCount=len(page), count=len(page))
        if len(page):
            body["results"] = [
                {"t": int(r.timestamp.value // 1_000_000), **_bar(r)}
                for r in page.itertuples(index=False)
            ]
        if len(rest):
            next_ms = int(rest["timestamp"].iloc[0].value // 1_000_000)
            cursor = (
                base64.urlsafe_b64encode(f"limit={limit}&sort=asc".encode()).decode().rstrip("=")
            )
            body["next_url"] = (
                f"{self.base_url}/v2/aggs/ticker/{ticker}/range/{multiplier}/"
                f"{timespan}/{next_ms}/{end}?cursor={cursor}"
            )
        return 200, body


class _Handler(BaseHTTPRequestHandler):
    fake: FakeProvider  # set per server

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _send(
        self, status: int, body: bytes, content_type="application/json", headers=None
    ) -> None:
        self.entry[2] = status
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-Id", uuid.uuid4().hex)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict, headers=None) -> None:
        payload.setdefault("request_id", uuid.uuid4().hex)
        self._send(status, json.dumps(payload).encode(), headers=headers)

    def do_GET(self) -> None:  # noqa: N802
        self.entry = [self.fake.clock(), self.path, None]
        with self.fake.lock:
            self.fake.log.append(self.entry)
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = unquote(url.path)
        route = _route(path)
        if self.fake.faults.latency_s:
            time.sleep(self.fake.faults.latency_s)
        if self._refused(query) or self._injected(self.fake._take_fault(route)):
            return
        if route == "tickers":
            self._json(200, self.fake.tickers_page(query))
        elif route == "grouped":
            self._json(200, self.fake.grouped(path.rsplit("/", 1)[-1]))
        elif route == "aggs":
            self._json(*self.fake.aggregates(path, query))
        else:
            self._json(404, {"status": "NOT_FOUND", "error": "resource not found"})

    def _refused(self, query: dict) -> bool:
        """Auth and rate limit, as the provider checks them."""
        key = query.get("apiKey") or self.headers.get("Authorization", "").removeprefix("Bearer ")
        if not key:
            self._json(401, {"status": "ERROR", "error": "API Key was not provided"})
        elif key != self.fake.faults.api_key:
            self._json(401, {"status": "ERROR", "error": "Unknown API Key"})
        elif self.fake.in_storm():
            self.fake.storm_hits.add(id(self.entry))
            after = self.fake.faults.storm_retry_after
            headers = {} if after is None else {"Retry-After": str(after)}
            self._json(429, {"status": "ERROR", "error": RATE_LIMIT_TEXT}, headers)
        elif self.fake._rate_limited():
            self._json(429, {"status": "ERROR", "error": RATE_LIMIT_TEXT})
        else:
            return False
        return True

    def _injected(self, fault: Fault | None) -> bool:
        if fault is None:
            return False
        if fault.kind == "drop":
            self.entry[2] = 0
            self.close_connection = True
            self.connection.shutdown(2)
        elif fault.kind == "slow":
            time.sleep(fault.delay_s)
            return False
        elif fault.kind == "status":
            self._json(fault.status, {"status": "ERROR", "error": "Internal server error"})
        elif fault.kind == "html":
            self._send(fault.status, NGINX_504, "text/html")
        elif fault.kind == "malformed":
            self._send(200, b'{"status": "OK", "results": [')
        else:  # empty | null
            body = {"status": "OK", "resultsCount": 0, "queryCount": 0}
            if fault.kind == "null":
                body["results"] = None
            self._json(200, body)
        return True


def _route(path: str) -> str:
    if path.startswith("/v3/reference/tickers"):
        return "tickers"
    if path.startswith("/v2/aggs/grouped"):
        return "grouped"
    return "aggs" if path.startswith("/v2/aggs/ticker") else "other"


def _parse_time(value: str, end: bool) -> pd.Timestamp:
    if value.isdigit():
        return pd.Timestamp(int(value), unit="ms", tz="UTC")
    day = pd.Timestamp(value, tz="UTC")
    return day + pd.Timedelta(days=1) - pd.Timedelta(milliseconds=1) if end else day


def _bar(row) -> dict:
    get = row.get if isinstance(row, pd.Series) else lambda k: getattr(row, k)
    bar = {
        "o": get("open"),
        "h": get("high"),
        "l": get("low"),
        "c": get("close"),
        "v": get("volume"),
        "vw": (get("high") + get("low") + get("close")) / 3,
    }
    return {k: float(v) for k, v in bar.items()}


def _frame(path: Path) -> pd.DataFrame:
    """The file's candles, re-read when the file changes (tests inject defects)."""
    return _read_frame(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=512)
def _read_frame(path: Path, mtime_ns: int) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame.sort_values("timestamp").reset_index(drop=True)
