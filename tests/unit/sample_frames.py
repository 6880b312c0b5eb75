"""Candle frames cut from the bundled real sample, for unit tests."""

import pandas as pd

from candlecast.marketdata import SampleProvider
from candlecast.settings import SAMPLE_DATA_DIR
from candlecast.timeframes import TIMEFRAMES

PROVIDER = SampleProvider(SAMPLE_DATA_DIR)


def sample_candles(code: str = "1h", ticker: str = "X:BTCUSDT", n: int = 500) -> pd.DataFrame:
    timeframe = TIMEFRAMES[code]
    now = PROVIDER.now()
    start = timeframe.next_open(timeframe.floor(now), -n)
    return PROVIDER.fetch_candles(ticker, timeframe, start, now)
