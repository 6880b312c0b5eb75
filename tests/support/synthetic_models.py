"""Synthetic universes' 1h models, each trained once per test session: `tests/unit/test_power.py`
examines a training's model, folds and panel; `tests/e2e/test_skill_served.py` serves the same
model from a home of its own (`register`), so the two never train one universe twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from candlecast.modeling import ForecastModel
from candlecast.modeling.training import train_timeframe
from candlecast.ohlcv import CandleStore
from candlecast.timeframes import TIMEFRAMES
from tests.support.synthetic_universe import synthetic_candles, write_store

HOUR = TIMEFRAMES["1h"]
# Run in the home's environment: argv[1] is a saved model's folder, or a stored version's tag.
REGISTER = """
import sys
from pathlib import Path

from candlecast.modeling import ForecastModel, load_version, save_model
from candlecast.ops import db
from candlecast.settings import Settings

settings = Settings()
source = sys.argv[1]
model = ForecastModel.load(Path(source)) if Path(source).is_dir() else load_version(source)
with db.connect(settings) as conn:
    print(save_model(settings, conn, model, actor="test"))
"""


class SyntheticModels:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._trained: dict[tuple[float, float], tuple] = {}

    def trained(self, signal: float, reversal: float = 0.0) -> tuple:
        """(model, folds, panel) of `train_timeframe` on `synthetic_candles(signal, reversal)`."""
        key = (signal, reversal)
        if key not in self._trained:
            root = write_store(
                self.root / f"synthetic-{signal}-{reversal}",
                synthetic_candles(signal=signal, reversal=reversal),
            )
            store = CandleStore(root)
            self._trained[key] = train_timeframe(store, store.tickers(HOUR), HOUR)
        return self._trained[key]


def register(model: ForecastModel, folder: Path, env: dict) -> str:
    """The model stored in the home `env` names, as `candlecast train` stores a version (a
    home's first: its champion); returns its tag."""
    folder.mkdir(parents=True)
    model.save(folder)
    return _register(str(folder), env)


def register_copy(tag: str, env: dict) -> str:
    """A stored version registered again as a new version (a challenger), without training."""
    return _register(tag, env)


def _register(source: str, env: dict) -> str:
    result = subprocess.run(
        [sys.executable, "-c", REGISTER, source], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout.strip().splitlines()[-1]
