"""What the commands print: JSON, times, and the tickers `--symbols` names."""

from __future__ import annotations

import json


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


def when(value) -> str:
    from datetime import UTC

    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def tickers_from(names: list[str]) -> list[str]:
    """Tickers as the API reads them ('btcusdt' is X:BTCUSDT), each once, in order; every bad
    name is named, and none may address a path outside the store."""
    from candlecast.api import normalise_ticker
    from candlecast.ohlcv import ticker_filename

    tickers, bad = [], []
    for name in names:
        try:
            ticker = normalise_ticker(name)
            ticker_filename(ticker)
        except ValueError:
            bad.append(name)
            continue
        if ticker not in tickers:
            tickers.append(ticker)
    if bad:
        raise ValueError(
            "--symbols: not a ticker like 'X:BTCUSDT' (letters and digits, optional 'X:'; a "
            "name with '/', '..' or other characters would address a path outside the store): "
            + ", ".join(repr(b) for b in bad)
        )
    return tickers
