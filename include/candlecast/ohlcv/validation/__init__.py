"""Great Expectations validation of OHLCV batches and the symbols table.

    `suites`    the suites, defined in code, and the columns they read
    `checks`    row-wise facts derived as columns before the suite runs
    `project`   the GX project, its lock, one suite run, Data Docs
    `verdicts`  what a suite run found, per series

Row-wise facts GX cannot see across rows or series (alignment to the timeframe, increasing
timestamps within a series, the move from the previous candle judged on the series' own scale by
`moves`, the gap before each candle) are derived as columns first, so the suites themselves stay
static and can be stored with their results for Data Docs. A failure names its candles, so only
those are held back (see `SeriesVerdict`). With a project folder, results are kept there and
`build_docs` renders them as HTML.
"""

from candlecast.ohlcv.validation.project import build_docs
from candlecast.ohlcv.validation.verdicts import (
    SeriesBatch,
    SeriesVerdict,
    validate_batches,
    validate_candles,
    validate_symbols,
)

__all__ = [
    "SeriesBatch",
    "SeriesVerdict",
    "build_docs",
    "validate_batches",
    "validate_candles",
    "validate_symbols",
]
