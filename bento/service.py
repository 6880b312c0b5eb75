"""candlecast forecasts over HTTP. Thin: every decision lives in include/candlecast."""

from __future__ import annotations

from typing import Annotated

import bentoml
from bentoml.exceptions import NotFound, UnprocessableEntity
from pydantic import AfterValidator, Field

from candlecast.forecast import Forecast
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES, parse_timeframe

settings = Settings()


def _timeframe(value: str) -> str:
    return parse_timeframe(value).code  # raises a ValueError that names the problem


def _symbol(value: str) -> str:
    from candlecast.serving import normalise_ticker

    return normalise_ticker(value)


TimeframeCode = Annotated[str, Field(max_length=8), AfterValidator(_timeframe)]
Symbol = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_symbol)]


def _serving_references() -> dict:
    from candlecast.registry import serving_reference

    return {code: serving_reference(settings, tf) for code, tf in TIMEFRAMES.items()}


@bentoml.service(name="candlecast", traffic={"timeout": 60})
class Candlecast:
    models = _serving_references()

    def __init__(self) -> None:
        from candlecast.cache import redis_client
        from candlecast.marketdata import get_provider
        from candlecast.registry import load_model

        self.forecasters = {code: load_model(ref) for code, ref in self.models.items()}
        self.provider = get_provider(settings)
        self.cache = redis_client(settings)

    @bentoml.api(route="/predict")
    def predict(
        self,
        symbol: Symbol,
        timeframe: TimeframeCode,
        steps: Annotated[int, Field(ge=1, le=30)] = 30,
    ) -> Forecast:
        from candlecast.forecast import InsufficientHistory
        from candlecast.serving import UnknownSymbol, predict

        try:
            return predict(
                settings,
                self.provider,
                self.cache,
                self.forecasters[timeframe],
                str(self.models[timeframe].tag),
                symbol,
                TIMEFRAMES[timeframe],
                steps,
            )
        except UnknownSymbol as error:
            raise NotFound(str(error)) from error
        except InsufficientHistory as error:
            raise UnprocessableEntity(str(error)) from error


from bento.access import AccessMiddleware  # noqa: E402

Candlecast.add_asgi_middleware(AccessMiddleware)
