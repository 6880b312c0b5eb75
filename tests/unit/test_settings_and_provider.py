import os
import re
import subprocess
import sys

from candlecast.marketdata import get_provider
from candlecast.settings import Settings


def test_sample_provider_is_the_default_without_a_key(monkeypatch):
    monkeypatch.delenv("POLYGON_API_KEY", raising=False)
    settings = Settings(_env_file=None)
    assert settings.provider_name == "sample"
    assert settings.polygon_base_url == "https://api.massive.com"
    provider = get_provider(settings)
    tickers = {t.ticker for t in provider.list_tickers()}
    assert tickers == {"X:BTCUSDT", "X:ETHUSDT", "X:BNBUSDT", "X:SOLUSDT", "X:XRPUSDT"}
    assert str(provider.now()) == "2025-09-19 23:00:00+00:00"  # end of the bundled data


def test_a_key_selects_polygon_and_is_never_printed(monkeypatch):
    monkeypatch.setenv("POLYGON_API_KEY", "sekret-key-123")
    settings = Settings(_env_file=None)
    assert settings.provider_name == "polygon"
    assert "sekret-key-123" not in repr(settings)
    provider = get_provider(settings)
    assert provider.name == "polygon"
    assert provider.client.base_url.host == "api.massive.com"
    assert "sekret-key-123" not in repr(provider.client.__dict__.get("base_url"))


def test_the_shadow_fraction_is_a_share_between_0_and_1(monkeypatch):
    import pytest
    from pydantic import ValidationError

    monkeypatch.delenv("CANDLECAST_SHADOW_FRACTION", raising=False)
    assert Settings(_env_file=None).candlecast_shadow_fraction == 0.1
    monkeypatch.setenv("CANDLECAST_SHADOW_FRACTION", "1")
    assert Settings(_env_file=None).candlecast_shadow_fraction == 1.0
    for bad in ("1.5", "-0.1"):
        monkeypatch.setenv("CANDLECAST_SHADOW_FRACTION", bad)
        with pytest.raises(ValidationError, match="candlecast_shadow_fraction"):
            Settings(_env_file=None)


def test_keys_are_required_only_when_asked(monkeypatch):
    monkeypatch.delenv("CANDLECAST_REQUIRE_API_KEY", raising=False)
    assert Settings(_env_file=None).candlecast_require_api_key is False  # the local stack
    for value, required in (("true", True), ("1", True), ("false", False), ("", False)):
        monkeypatch.setenv("CANDLECAST_REQUIRE_API_KEY", value)
        assert Settings(_env_file=None).candlecast_require_api_key is required, value


def test_home_holds_all_local_state(tmp_path):
    settings = Settings(_env_file=None, candlecast_home=tmp_path)
    for path in (settings.store_dir, settings.bentoml_home, settings.run_dir):
        assert path.is_relative_to(tmp_path)


def test_missing_model_names_the_fix(tmp_path):
    # BentoML fixes its store when first imported: a process of its own, with an empty store
    script = (
        "from candlecast.modeling import serving_reference\n"
        "from candlecast.settings import Settings\n"
        "from candlecast.timeframes import TIMEFRAMES\n"
        "try:\n"
        "    serving_reference(Settings(_env_file=None), TIMEFRAMES['1M'])\n"
        "except LookupError as error:\n"
        "    print('LookupError:', error)\n"
    )
    env = {
        **os.environ,
        "CANDLECAST_HOME": str(tmp_path),
        "BENTOML_HOME": str(tmp_path / "empty-store"),
        "DATABASE_URL": "postgresql://127.0.0.1:1/none",  # PostgreSQL cannot say either
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(
        r"LookupError: no candlecast-1mo model .* run the train_models DAG", result.stdout
    )


def test_stablecoins_fiat_gold_and_wrapped_coins_are_not_trained_on():
    from candlecast.ohlcv.symbols import trainable

    tickers = [
        "X:BTCUSDT",
        "X:USDCUSDT",
        "X:FDUSDUSDT",
        "X:EURUSDT",
        "X:PAXGUSDT",
        "X:WBTCUSDT",
        "X:ETHBTC",
        "X:SOLUSD",
    ]
    assert trainable(tickers) == ["X:BTCUSDT", "X:ETHBTC", "X:SOLUSD"]


def test_the_plan_limit_counts_over_its_window(monkeypatch, redis_url):
    monkeypatch.setenv("POLYGON_API_KEY", "a-key")
    monkeypatch.setenv("POLYGON_REQUESTS_PER_MINUTE", "5")
    per_minute = get_provider(Settings(_env_file=None, redis_url=redis_url)).client.limiter
    monkeypatch.setenv("POLYGON_RATE_WINDOW_SECONDS", "15")
    quarter = get_provider(Settings(_env_file=None, redis_url=redis_url)).client.limiter
    assert per_minute.limit == quarter.limit == 5
    assert quarter.window_us < per_minute.window_us  # the margin on top of each
    assert per_minute.window_us - quarter.window_us == 45_000_000
