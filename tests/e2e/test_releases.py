"""Releases for real (the ohlcv Asset only when series were written is test_data_pipeline's): a
synthetic universe's 1h versions trained by the CLI into a home of their own, served by
`bentoml serve` (two workers), promoted and rolled back by the CLI and promoted by the
`release_models` DAG while clients keep asking: every worker swaps (its log line counted, on the
poll after the change) and no request fails. Every change leaves a `model_releases` row; prune
keeps what it must. Nothing here is timed: waits are on answers and log lines, bounded only
against a hang."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from candlecast.modeling import model_name
from candlecast.ops import ensure_database, with_database
from candlecast.timeframes import TIMEFRAMES
from tests.e2e.conftest import run_airflow
from tests.support.bento_server import BIN, PROJECT_DIR, eventually, running_bento, workers
from tests.support.synthetic_models import register_copy
from tests.support.synthetic_universe import synthetic_candles, write_universe

pytestmark = pytest.mark.e2e
COINS = ("X:SYN00USDT", "X:SYN05USDT", "X:SYN11USDT", "X:SYN17USDT")
CLIENTS = 4
SETTLED = 8  # answers in a row that name the new version: it stays swapped
HANG_SECONDS = 300  # a guard against a hang, not a threshold


def run(env: dict, *args: str, timeout: float = 900) -> str:
    result = subprocess.run(
        args, env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}{result.stderr}"[-5000:]
    return result.stdout


def train(env: dict, auto_promote: bool) -> dict:
    env = {**env, "CANDLECAST_AUTO_PROMOTE": str(auto_promote).lower()}
    output = run(env, str(BIN / "candlecast"), "train", "--timeframe", "1h")
    return json.loads(output[output.index("{") :])


@pytest.fixture(scope="module")
def releases_home(stack_environment, dag_runs, tmp_path_factory):
    """Two 1h versions of a synthetic universe (the first champion, the second a challenger
    that passed its gate with auto-promotion off); the other timeframes' champions are the
    session's, imported."""
    work = tmp_path_factory.mktemp("releases")
    candles = synthetic_candles(coins=20, hours=1500, signal=0.08, seed=3)
    folder = write_universe(work / "universe", candles)
    database = f"releases_{uuid.uuid4().hex[:8]}"
    ensure_database(stack_environment["DATABASE_URL"], database)
    env = {
        **stack_environment,
        "CANDLECAST_HOME": str(work / "home"),
        "BENTOML_HOME": str(work / "home" / "bentoml"),
        "DATABASE_URL": with_database(stack_environment["DATABASE_URL"], database),
        "CANDLECAST_PROVIDER": "sample",
        "CANDLECAST_SAMPLE_DIR": str(folder),
        "CANDLECAST_PREDICTION_CACHE_SECONDS": "0",
        "CANDLECAST_RELEASE_POLL_SECONDS": "1",
        "CANDLECAST_SHADOW_FRACTION": "1",  # every computed forecast shadowed by the challenger
    }
    candlecast = str(BIN / "candlecast")
    run(env, candlecast, "sync-symbols")
    run(env, candlecast, "update", "--timeframe", "1h")
    first, second = train(env, auto_promote=True), train(env, auto_promote=False)
    bentoml = str(BIN / "bentoml")
    for timeframe in TIMEFRAMES.values():
        if timeframe.code != "1h":
            archive = work / f"{model_name(timeframe)}.bentomodel"
            run(
                stack_environment,
                bentoml,
                "models",
                "export",
                f"{model_name(timeframe)}:latest",
                str(archive),
            )
            run(env, bentoml, "models", "import", str(archive))
    return {"env": env, "work": work, "first": first, "second": second}


class Clients:
    """CLIENTS threads posting 1h forecasts on new connections (so both workers answer) until
    stopped; every answer kept, in the order they came back, as (status, model tag or error)."""

    def __init__(self, url: str) -> None:
        self.url, self.answers, self.stop = url, [], threading.Event()
        self.threads = [threading.Thread(target=self._ask, args=(i,)) for i in range(CLIENTS)]

    def _ask(self, i: int) -> None:
        n = 0
        while not self.stop.is_set():
            coin, n = COINS[(i + n) % len(COINS)], n + 1
            try:
                answer = httpx.post(
                    f"{self.url}/predict", json={"symbol": coin, "timeframe": "1h"}, timeout=30
                )
                model = answer.json().get("model") if answer.status_code == 200 else answer.text
                self.answers.append((answer.status_code, model))
            except httpx.HTTPError as error:
                self.answers.append(("error", repr(error)))

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def wait_for_answers(self, after: int, n: int) -> None:
        eventually(lambda: len(self.answers) >= after + n, f"{n} answers", HANG_SECONDS)

    def swap(self, change, tag: str, env: dict, log: Path) -> dict:
        """Run `change` (a promotion or rollback) under load, then wait until every worker has
        logged its swap to `tag` and SETTLED more answers came back: the answers while the
        workers swapped, the failed ones, and the last ones."""
        self.wait_for_answers(len(self.answers), SETTLED)  # the clients are asking
        swapped = f"1h: now serving champion {tag} "
        before, began = log.read_text().count(swapped), len(self.answers)
        releases_before = len(release_rows(env))
        change()
        assert len(release_rows(env)) == releases_before + 1  # committed, with its row
        eventually(
            lambda: log.read_text().count(swapped) >= before + workers(env),
            f"every worker swaps to {tag}",
            HANG_SECONDS,
        )
        all_swapped = len(self.answers)
        # A request finishes on the version it read: each client may have one answer of the
        # old version in flight; every later answer names `tag`, and it stays swapped.
        self.wait_for_answers(all_swapped, CLIENTS + SETTLED)
        during = self.answers[began:]
        return {
            "workers_swapped": log.read_text().count(swapped) - before,
            "answers_while_swapping": all_swapped - began,
            "answers": len(during),
            "failed": [a for a in during if a[0] != 200],
            "last_answers": {a[1] for a in self.answers[all_swapped + CLIENTS :]},
        }


def models_1h(url: str) -> dict:
    listed = httpx.post(f"{url}/models", json={}, timeout=30).json()["models"]
    return next(m for m in listed if m["timeframe"] == "1h")


def release_rows(env: dict) -> list[tuple]:
    with psycopg.connect(env["DATABASE_URL"], row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT r.action, f.version AS f, t.version AS t, r.actor FROM model_releases r "
            "LEFT JOIN models f ON f.id = r.from_model_id LEFT JOIN models t ON t.id = "
            "r.to_model_id WHERE r.timeframe = '1h' ORDER BY r.id"
        ).fetchall()
    return [(r["action"], r["f"], r["t"], r["actor"].split(":")[0]) for r in rows]


def shadow_pairs(env: dict) -> list[tuple[tuple[str, str], bool]]:
    """Each shadow forecast as ((its model, the model of the forecast it shadows), whether both
    saw the same last candle)."""
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT sm.name || ':' || sm.version, cm.name || ':' || cm.version, "
            "s.last_candle_at = c.last_candle_at FROM predictions s "
            "JOIN predictions c ON c.id = s.shadow_of JOIN models sm ON sm.id = s.model_id "
            "JOIN models cm ON cm.id = c.model_id WHERE s.shadow"
        ).fetchall()
    return [((r[0], r[1]), r[2]) for r in rows]


def test_promote_and_rollback_swap_every_worker_without_a_failed_request(releases_home):
    env, first, second = releases_home["env"], releases_home["first"], releases_home["second"]
    v1, v2 = first["tag"], second["tag"]
    assert first["stage"] == "champion" and first["gate"] is None  # a fresh install serves
    assert second["stage"] == "challenger" and second["gate"].startswith("pass")
    candlecast = str(BIN / "candlecast")
    listing = run(env, candlecast, "models", "list", "--timeframe", "1h")
    assert f"champion    {v1}" in listing and f"challenger  {v2}" in listing
    log = releases_home["work"] / "bento.log"
    with running_bento(env, log) as url:
        shown = models_1h(url)
        assert (shown["model"], shown["stage"]) == (v1, "champion")
        assert shown["challenger"]["model"] == v2
        gate = shown["challenger"]["gate"]
        assert gate["verdict"] == "pass" and gate["champion"] == v1
        assert gate["window"]["pairs"] > 0
        assert {"rank_ic", "direction_accuracy_ci95", "ece", "interval80_coverage"} <= set(
            gate["challenger_figures"]["h1"]
        )
        assert len(gate["difference"]["h1"]["rank_ic_ci95"]) == 2
        with Clients(url) as clients:
            promoted = clients.swap(
                lambda: run(env, candlecast, "models", "promote", v2, "--reason", "e2e"),
                v2,
                env,
                log,
            )
            rolled = clients.swap(
                lambda: run(env, candlecast, "models", "rollback", "1h"), v1, env, log
            )
            conf = json.dumps({"action": "promote", "tag": v2, "reason": "from the UI"})
            by_dag = clients.swap(
                lambda: run_airflow(env, "dags", "test", "release_models", "-c", conf), v2, env, log
            )
        print(
            f"\nswaps under {CLIENTS} clients: promote {promoted}, rollback {rolled}, dag {by_dag}"
        )
        for swap, tag in ((promoted, v2), (rolled, v1), (by_dag, v2)):
            assert swap["failed"] == [] and swap["answers_while_swapping"] > 0
            assert swap["answers"] >= swap["answers_while_swapping"] + CLIENTS + SETTLED
            assert swap["last_answers"] == {tag}
            assert swap["workers_swapped"] == workers(env)
        assert models_1h(url)["model"] == v2
    # while v1 served and v2 waited, v2 forecast the same requests in the shadows, never answered
    shadows = shadow_pairs(env)
    assert shadows and {pair for pair, _ in shadows} == {(v2, v1)}
    assert all(same_candle for _, same_candle in shadows)
    assert release_rows(env) == [
        ("first_champion", None, v1.split(":")[1], "train"),
        ("register", None, v2.split(":")[1], "train"),
        ("promote", v1.split(":")[1], v2.split(":")[1], "cli"),
        ("rollback", v2.split(":")[1], v1.split(":")[1], "cli"),
        ("promote", v1.split(":")[1], v2.split(":")[1], "release_models"),
    ]


def test_prune_keeps_champions_and_former_champions(releases_home):
    """A third version that was never champion (a copy of the second, registered without
    training) is pruned; the champion and the former champion are kept."""
    env = releases_home["env"]
    third = {"tag": register_copy(releases_home["second"]["tag"], env)}
    assert third["tag"] != releases_home["second"]["tag"]
    pruned = json.loads(run(env, str(BIN / "candlecast"), "models", "prune", "--keep", "0"))
    assert pruned["pruned"] == [third["tag"]]
    bentoml = str(BIN / "bentoml")
    stored = {m["tag"] for m in json.loads(run(env, bentoml, "models", "list", "-o", "json"))}
    assert third["tag"] not in stored
    for version, stage in (
        (releases_home["second"], "champion"),
        (releases_home["first"], "retired"),
    ):
        info = json.loads(run(env, bentoml, "models", "get", version["tag"], "-o", "json"))
        assert info["labels"]["stage"] == stage
    listing = run(env, str(BIN / "candlecast"), "models", "list", "--timeframe", "1h")
    assert f"pruned      {third['tag']}" in listing
