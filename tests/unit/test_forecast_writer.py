"""Group commit on real PostgreSQL: concurrent forecasts share statements, each caller returns
only once its rows are committed, and a failed batch reports False to each of its callers while
everything stored before stays stored. A flush is held back by a lock another connection takes
on `predictions`, so which rows share a batch is certain, not left to timing."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from candlecast.ops import ConnectionPool, db
from candlecast.serving import ForecastWriter
from tests.unit.test_persist_forecast import forecast, rows


@pytest.fixture
def local(settings, fresh_database_url):
    return settings.model_copy(update={"database_url": fresh_database_url})


@pytest.fixture
def ids(local):
    with db.connect(local) as conn:
        symbol = conn.execute(
            "INSERT INTO symbols (ticker, name, base, quote) "
            "VALUES ('X:WRITERUSD', 'w', 'W', 'USD') RETURNING id"
        ).fetchone()["id"]
        model = conn.execute(
            "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
            "trained_at, n_symbols, n_train_rows) VALUES ('writer-test', 'v1', '1d', 'xgboost', "
            "'v2', now(), 1, 1) RETURNING id"
        ).fetchone()["id"]
        conn.commit()
    return symbol, model


def new_forecast(bad: bool = False):
    made = forecast(str(uuid.uuid4()))
    if bad:  # the schema refuses a confidence of 1.5
        made.steps[-1] = made.steps[-1].model_copy(update={"confidence": 1.5})
    return made


def wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the writer never reached the expected state")
        time.sleep(0.01)


class HeldFlush:
    """Holds every flush at PostgreSQL (an exclusive lock on predictions) until released."""

    def __init__(self, settings) -> None:
        self.connecting = db.connect(settings)

    def __enter__(self) -> HeldFlush:
        self.conn = self.connecting.__enter__()
        self.conn.execute("LOCK TABLE predictions IN EXCLUSIVE MODE")
        return self

    def release(self) -> None:
        self.conn.commit()

    def __exit__(self, *exc) -> None:
        self.conn.rollback()
        self.connecting.__exit__(*exc)


def write_in_threads(writer, made, ids, results: dict, seen: dict, local) -> list[threading.Thread]:
    """One thread per forecast; each records what `write` said and, right after it returned,
    whether its rows were visible to another connection (committed)."""

    def one(forecast) -> None:
        results[forecast.prediction_id] = writer.write(forecast, *ids, "k")
        with db.connect(local) as conn:
            seen[forecast.prediction_id] = rows(conn, forecast.prediction_id)

    threads = [threading.Thread(target=one, args=(f,)) for f in made]
    return threads


def test_concurrent_forecasts_share_one_statement_and_each_is_committed_on_return(local, ids):
    writer = ForecastWriter(ConnectionPool(local))
    first, *rest = [new_forecast() for _ in range(16)]
    results, seen = {}, {}
    threads = write_in_threads(writer, [first, *rest], ids, results, seen, local)
    with HeldFlush(local) as held:
        threads[0].start()
        wait_until(lambda: writer.batches == 1)  # the first flush is waiting for the lock
        for thread in threads[1:]:
            thread.start()
        wait_until(lambda: writer.queued == len(rest))  # queued behind it
        assert results == {}  # nobody has returned before its rows are committed
        held.release()
        for thread in threads:
            thread.join(timeout=60)
    assert writer.batches == 2 and writer.rows == 16  # 16 forecasts, 2 statements
    assert all(results[f.prediction_id] for f in [first, *rest])
    assert all(seen[f.prediction_id] == (1, 30) for f in [first, *rest])


def test_a_failed_batch_reports_false_to_each_of_its_callers_and_keeps_what_was_stored(local, ids):
    writer = ForecastWriter(ConnectionPool(local))
    earlier = new_forecast()
    assert writer.write(earlier, *ids, "k") is True
    leader, bad, good = new_forecast(), new_forecast(bad=True), new_forecast()
    results, seen = {}, {}
    threads = write_in_threads(writer, [leader, bad, good], ids, results, seen, local)
    with HeldFlush(local) as held:
        threads[0].start()
        wait_until(lambda: writer.batches == 2)  # the leader's batch waits for the lock
        threads[1].start()
        threads[2].start()
        wait_until(lambda: writer.queued == 2)  # bad and good share the next batch
        held.release()
        for thread in threads:
            thread.join(timeout=60)
    assert writer.batches == 3
    assert results == {leader.prediction_id: True, bad.prediction_id: False,
                       good.prediction_id: False}  # fmt: skip
    assert seen[bad.prediction_id] == seen[good.prediction_id] == (0, 0)
    with db.connect(local) as conn:
        assert rows(conn, earlier.prediction_id) == rows(conn, leader.prediction_id) == (1, 30)
    assert writer.write(good, *ids, "k") is True  # the writer goes on after a failed batch


def test_postgresql_down_reports_false_to_every_caller(settings):
    down = settings.model_copy(update={"database_url": "postgresql://127.0.0.1:1/candlecast"})
    writer = ForecastWriter(ConnectionPool(down))
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(writer.write(new_forecast(), 1, 1, "k")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [False] * 4
