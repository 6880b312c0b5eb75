"""The API's answers other than a forecast, each one function over the serving objects: symbol
search, candles, the models served, stored forecasts, live accuracy and health."""

from __future__ import annotations

from candlecast.api import (
    AccuracyReport,
    AccuracyRequest,
    Candle,
    CandleSeries,
    Challenger,
    Forecast,
    Health,
    ModelList,
    ServingModel,
    SymbolSearchResult,
    Unprocessable,
    accuracy_from_tables,
    headline_metrics,
    latest_forecast,
    model_rows,
    search_symbols,
    skill_evidence,
    stored_forecast,
)
from candlecast.modeling import releases
from candlecast.ops import DatabaseUnavailable
from candlecast.serving.forecaster import Forecaster
from candlecast.serving.healthz import check_health
from candlecast.timeframes import Timeframe


def symbol_search(forecaster: Forecaster, query: str, limit: int) -> SymbolSearchResult:
    with forecaster.pool.connection() as conn:
        return SymbolSearchResult(query=query, matches=search_symbols(conn, query, limit))


def candle_series(
    forecaster: Forecaster, symbol: str, timeframe: Timeframe, limit: int
) -> CandleSeries:
    """The newest closed candles, from the same fresh-candle path as a forecast."""
    window = forecaster.window(symbol, timeframe, forecaster.symbol_id(symbol) is not None)
    frame = window.frame.iloc[-limit:]
    return CandleSeries(
        symbol=symbol,
        timeframe=timeframe.code,
        last_candle_at=window.last_candle_at,
        data_age_seconds=window.data_age_seconds,
        stale=window.stale,
        candles=[Candle(**row) for row in frame.to_dict("records")],
    )


def served_tags(forecaster: Forecaster) -> dict[str, str]:
    return {code: served.tag for code, served in forecaster.models.items()}


def model_list(forecaster: Forecaster) -> ModelList:
    """The version served per timeframe, with the headline metrics recorded at training (none
    while PostgreSQL is down)."""
    tags = served_tags(forecaster)
    try:
        with forecaster.pool.connection() as conn:
            rows = model_rows(conn, list(tags.values()))
            stages = {v["tag"]: v for v in releases.versions(conn) if v["tag"] in tags.values()}
            challengers = {code: releases.newest_challenger(conn, code) for code in tags}
    except DatabaseUnavailable:
        rows, stages, challengers = {}, {}, {}
    models = []
    for code, tag in tags.items():
        row = rows.get(tag, {})
        name, _, version = tag.partition(":")
        models.append(
            ServingModel(
                timeframe=code,
                model=tag,
                model_name=name,
                model_version=version,
                trained_at=row.get("trained_at"),
                algorithm=row.get("algorithm"),
                n_symbols=row.get("n_symbols"),
                headline=headline_metrics(row.get("metrics") or {}),
                skill=skill_evidence(
                    (row.get("metrics") or {}).get("skill_by_horizon"), forecaster.rank_fee
                ),
                stage=stages.get(tag, {}).get("stage"),
                gate=stages.get(tag, {}).get("gate") or {},
                challenger=_challenger(challengers.get(code)),
            )
        )
    return ModelList(
        models=models, pinned=forecaster.pinned_bento is not None, bento=forecaster.pinned_bento
    )


def prediction_by_id(forecaster: Forecaster, prediction_id: str) -> Forecast:
    with forecaster.pool.connection() as conn:
        return stored_forecast(conn, prediction_id)


def latest_prediction(forecaster: Forecaster, symbol: str, timeframe: str) -> Forecast:
    with forecaster.pool.connection() as conn:
        return latest_forecast(conn, symbol, timeframe)


def live_accuracy(forecaster: Forecaster, request: AccuracyRequest) -> AccuracyReport:
    """The rolling figures the `score_outcomes` DAG keeps, filtered as asked. A range that
    ends before it starts matches the schema but can select nothing: 422, naming `start`."""
    if request.start and request.end and request.start > request.end:
        raise Unprocessable(f"start {request.start} is after end {request.end}", field="start")
    with forecaster.pool.connection() as conn:
        return accuracy_from_tables(
            conn, request, forecaster.candles.provider.now(), forecaster.rank_fee
        )


def health(forecaster: Forecaster, require_key: bool = False) -> Health:
    candles = forecaster.candles
    tags = served_tags(forecaster)
    return check_health(forecaster.pool, candles.cache, candles.state, tags, require_key)


def _challenger(row: dict | None) -> Challenger | None:
    if row is None:
        return None
    return Challenger(
        model=row["tag"],
        trained_at=row["trained_at"],
        gate=row["gate"] or {},
        live_gate=row.get("live_gate") or {},
    )
