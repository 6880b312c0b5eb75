"""The peer bench_api.py measures the Bento against: a minimal uvicorn + FastAPI app calling the
same forecast function (`Forecaster.predict`) with the same storage (Redis candles and prediction
cache, PostgreSQL rows), built from the same settings. No API keys, no BentoML.

    uvicorn --app-dir bench peer_app:app --workers 2
"""

from __future__ import annotations

from fastapi import FastAPI, Response

from candlecast.api import PredictRequest
from candlecast.serving import build_forecaster, model_references
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES

settings = Settings()
forecaster = build_forecaster(settings, model_references(settings))
app = FastAPI()


@app.post("/predict")
def predict(body: PredictRequest) -> Response:
    forecast = forecaster.predict(
        body.symbol, TIMEFRAMES[body.timeframe], body.steps, body.predict_until
    )
    return Response(forecast.model_dump_json(), media_type="application/json")
