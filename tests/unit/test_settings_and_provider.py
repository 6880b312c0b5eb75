import pytest

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


def test_home_holds_all_local_state(tmp_path):
    settings = Settings(_env_file=None, candlecast_home=tmp_path)
    for path in (settings.store_dir, settings.bentoml_home, settings.run_dir):
        assert path.is_relative_to(tmp_path)


def test_missing_model_names_the_fix(tmp_path, monkeypatch):
    from candlecast.modeling import serving_reference
    from candlecast.timeframes import TIMEFRAMES

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "empty-store"))
    settings = Settings(_env_file=None, candlecast_home=tmp_path)
    with pytest.raises(LookupError, match="no candlecast-1mo model .* run the train_models DAG"):
        serving_reference(settings, TIMEFRAMES["1M"])


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
