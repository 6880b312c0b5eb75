"""The one typed settings class. Every field is read from the environment (see README)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLE_DATA_DIR = PACKAGE_DIR / "data" / "sample"
# a week of 1h candles, a week of 4h, a week of days, one week, one month
RETRAIN_DEFAULTS = {"1h": 168, "4h": 42, "1d": 7, "1w": 1, "1M": 1}


class Settings(BaseSettings):
    # An empty variable (NAME= in an env file, `${NAME:-}` in compose) counts as unset.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL for metadata. Unset: an embedded server under CANDLECAST_HOME.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for the candle cache. Unset: an embedded server under CANDLECAST_HOME.",
    )
    polygon_api_key: SecretStr | None = Field(
        default=None, description="Polygon/Massive API key. Unset: the bundled sample provider."
    )
    polygon_base_url: str = "https://api.massive.com"
    polygon_requests_per_minute: int | None = Field(
        default=None, ge=1, description="Plan limit (5 on the free tier); unset: unlimited."
    )
    polygon_rate_window_seconds: float = Field(
        default=60.0,
        gt=0,
        description="The window POLYGON_REQUESTS_PER_MINUTE counts requests over: 60 for a "
        "per-minute plan; shorter for a plan counted per second (or a test).",
    )
    polygon_max_concurrency: int = Field(default=8, ge=1)
    polygon_timeout_seconds: float = Field(default=30.0, gt=0)
    polygon_max_retries: int = Field(default=6, ge=0)
    polygon_backoff_seconds: float = Field(default=1.0, ge=0)
    polygon_rate_limit_patience_seconds: float = Field(
        default=300.0,
        ge=0,
        description="How long 429s (and 503s with Retry-After) are retried: a rate-limit window "
        "is outlasted, not counted against POLYGON_MAX_RETRIES.",
    )
    candlecast_home: Path = Field(default=Path(".candlecast"), description="All local state.")
    candlecast_store_url: str | None = Field(
        default=None,
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$",
        description="The stores on an S3-compatible object store (s3://bucket/prefix): the "
        "Parquet store and the published models. Unset: files under CANDLECAST_HOME.",
    )
    candlecast_provider: Literal["auto", "sample", "polygon"] = "auto"
    candlecast_executor: Literal["local", "celery"] = Field(
        default="local",
        description="Airflow's executor in `make up`: local (standalone) or celery (Redis "
        "broker, PostgreSQL results, CANDLECAST_CELERY_WORKERS workers).",
    )
    candlecast_celery_workers: int = Field(default=2, ge=1, le=16)
    candlecast_sample_dir: Path = SAMPLE_DATA_DIR
    candlecast_now: datetime | None = Field(
        default=None,
        description="Freeze the provider's clock (replays and tests); unset: real time.",
    )
    candlecast_top_n: int = Field(default=500, ge=1)
    candlecast_rank_fee: float = Field(
        default=0.001,
        ge=0,
        le=0.1,
        description="Fee a side (0.001 = 0.1 %) the ranking's top-minus-bottom-fifth spreads are "
        "shown net of (/models, /accuracy, the report).",
    )
    candlecast_symbol_batch_size: int = Field(default=50, ge=1)
    candlecast_health_max_stale_fraction: float = Field(default=0.05, ge=0, le=1)
    candlecast_health_min_coverage: float = Field(default=0.95, ge=0, le=1)
    candlecast_candle_cache_ttl_seconds: int = Field(default=300, ge=1)
    candlecast_candle_cache_keep_seconds: int = Field(
        default=7 * 86400,
        ge=60,
        description="How long cached serving candles are kept, to serve (stale) when the "
        "provider is down; freshness is judged by their content, not by this.",
    )
    candlecast_prediction_cache_seconds: int = Field(
        default=900, ge=0, description="Lifetime of a cached forecast in Redis; 0 disables it."
    )
    candlecast_api_provider_max_retries: int = Field(
        default=1, ge=0, description="Retries of a failed provider call made by the API."
    )
    candlecast_api_provider_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Per-request provider timeout for the API."
    )
    candlecast_feature_cache_entries: int = Field(
        default=2048,
        ge=0,
        description="Series whose serving inputs (the features a forecast reads) each API "
        "worker keeps until their next candle closes, shared with the other workers through "
        "Redis; 0 computes features on every forecast and shares nothing.",
    )
    candlecast_api_workers: int = Field(
        default=2, ge=1, le=64, description="Worker processes of the Bento (one per core)."
    )
    candlecast_api_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Requests a Bento worker computes at once (threads: one computes while "
        "another waits on PostgreSQL, Redis or the provider).",
    )
    candlecast_access_log: bool = Field(
        default=True,
        description="BentoML's access log line per request (off behind a proxy that logs them).",
    )
    candlecast_api_key_rate_per_minute: int = Field(
        default=600, ge=1, description="Sustained requests per minute of a new API key."
    )
    candlecast_api_key_burst: int = Field(
        default=60, ge=1, description="Requests a new API key may make at once."
    )
    candlecast_require_api_key: bool = Field(
        default=False,
        description="Every operation but the probes (/livez, /readyz) and the docs wants a "
        "valid API key, also while none exists (off: the API is open until the first key).",
    )
    candlecast_api_key_cache_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How long the service trusts its copy of the key set (revocation delay).",
    )
    candlecast_auto_promote: bool = Field(
        default=True,
        description="Promote a challenger that passed its gate once its live shadows show it "
        "no worse than the champion (the live gate); off: every promotion waits for "
        "`candlecast models promote` (or release_models).",
    )
    candlecast_live_gate_min_outcomes: int = Field(
        default=3000,
        ge=1,
        description="Scored shadow outcomes, paired with the champion's on the same requests "
        "and candles, a challenger needs before the live gate may promote it (README: Releases).",
    )
    candlecast_live_gate_max_days: float = Field(
        default=14,
        gt=0,
        description="Days a challenger waits for the live gate; then, not promoted, it is "
        "rejected with the reason recorded (auto-promotion on).",
    )
    candlecast_retrain_min_new_candles: dict[str, int] = Field(
        default_factory=dict,
        description="New candles since the champion's data end before an ohlcv Asset event "
        'retrains a timeframe, as JSON, e.g. {"1h": 168}; unset ones keep RETRAIN_DEFAULTS.',
    )
    candlecast_release_poll_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How often each API worker asks PostgreSQL for the champions (the longest "
        "a promotion or rollback waits to be served); 0 never swaps without a restart.",
    )

    candlecast_shadow_fraction: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Fraction of computed forecasts that each timeframe's newest challenger "
        "also makes, in the background, stored as shadows (never returned) so live outcomes "
        "compare it with the champion; 0: no shadows (and no challenger held in memory).",
    )

    def retrain_min_new_candles(self, timeframe_code: str) -> int:
        return {**RETRAIN_DEFAULTS, **self.candlecast_retrain_min_new_candles}[timeframe_code]

    candlecast_drift_min_outcomes: int = Field(
        default=200,
        ge=1,
        description="Live outcomes a version needs in the drift window before drift can alert.",
    )
    candlecast_drift_window_days: Literal[1, 7, 30] = Field(
        default=7,
        description="Trailing days of outcomes the drift checks and emergency stops read.",
    )
    candlecast_report_hours: str = Field(
        default="7,19",
        pattern=r"^([01]?\d|2[0-3])(,([01]?\d|2[0-3]))*$",
        description="UTC hours of the daily report (comma-separated); the weekly one goes out "
        "on Sunday at the last of them.",
    )

    @property
    def home(self) -> Path:
        return self.candlecast_home.expanduser().resolve()

    @property
    def store_dir(self) -> Path:
        return self.home / "store"

    @property
    def store_location(self) -> Path | str:
        """Where the Parquet store lives: `s3://bucket/prefix/store` or the local folder."""
        if self.candlecast_store_url:
            return self.candlecast_store_url.rstrip("/") + "/store"
        return self.store_dir

    @property
    def quarantine_location(self) -> Path | str:
        """Where held candles are kept: beside the store on the object store, or local."""
        if self.candlecast_store_url:
            return self.candlecast_store_url.rstrip("/") + "/quarantine"
        return self.home / "quarantine"

    @property
    def bentoml_home(self) -> Path:
        return self.home / "bentoml"

    @property
    def gx_dir(self) -> Path:
        """Great Expectations project: suites, kept results, Data Docs."""
        return self.home / "gx"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def provider_name(self) -> Literal["sample", "polygon"]:
        if self.candlecast_provider != "auto":
            return self.candlecast_provider
        return "polygon" if self.polygon_api_key else "sample"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


class _ReportHours(BaseSettings):
    model_config = Settings.model_config
    candlecast_report_hours: str = Settings.model_fields["candlecast_report_hours"]


def report_hours() -> str:
    """CANDLECAST_REPORT_HOURS alone, read and checked as `Settings` reads it: what the `reports`
    DAG's schedule needs at parse time, without building every other setting on each parse."""
    return _ReportHours().candlecast_report_hours
