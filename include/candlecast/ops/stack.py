"""`candlecast up` / `candlecast down`: the whole local stack, started once and stopped cleanly.

Started: embedded PostgreSQL/Redis (only when DATABASE_URL/REDIS_URL are unset), Airflow on :8080
and `bentoml serve` on :3000, each in its own process group with a pidfile under
$CANDLECAST_HOME/run. Airflow is `airflow standalone` (LocalExecutor) by default; with the
CeleryExecutor it is its components (api-server, scheduler, dag-processor, triggerer) and N
`airflow celery worker` processes, Redis the broker and PostgreSQL the result backend. `down`
stops exactly those and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

from candlecast.ops.stack_env import stack_env
from candlecast.ops.workers import celery_env, worker_argv, worker_env
from candlecast.settings import Settings

AIRFLOW_PORT, BENTO_PORT = 8080, 3000
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
WORKER_PREFIX = "celery-worker-"
DAG_IDS = ("symbol_sync", "ohlcv_update", "train_models")  # the chain `up` waits for
OTHER_DAG_IDS = ("data_health",)


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _pid_alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _start(
    name: str, argv: list[str], port: int | None, env: dict, run_dir: Path, log_dir: Path
) -> bool:
    """Start argv in a new session unless its pidfile names a live process."""
    pidfile = run_dir / f"{name}.pid"
    if _pid_alive(pidfile):
        print(f"· {name} already running (pid {pidfile.read_text().strip()})")
        return False
    if port is not None and _port_in_use(port):
        raise RuntimeError(
            f"port {port} is in use by a process candlecast did not start; "
            f"stop it and run `make up` again"
        )
    log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    pidfile.write_text(str(process.pid))
    print(f"· started {name} (pid {process.pid}, log {log_dir / f'{name}.log'})")
    return True


def _group_alive(pid: int) -> bool:
    # A leader this process started stays a zombie, and its group "alive", until it is reaped.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop_all(names: list[str], run_dir: Path) -> list[str]:
    """SIGTERM to each named process group at once, SIGKILL to those still up after 30 s."""
    running = {}
    for name in names:
        pidfile = run_dir / f"{name}.pid"
        pid = _pid_alive(pidfile)
        if pid is None:
            pidfile.unlink(missing_ok=True)
        else:
            running[name] = pid
    for sig, wait in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 5.0)):
        for pid in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(map(_group_alive, running.values())):
            time.sleep(0.2)
    for name in running:
        (run_dir / f"{name}.pid").unlink(missing_ok=True)
    return list(running)


def _stop(name: str, run_dir: Path) -> bool:
    return bool(_stop_all([name], run_dir))


def wait_http(url: str, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{what} did not answer {url} within {timeout:.0f} s")


def _airflow(*args: str, env: dict) -> str:
    result = subprocess.run([_bin("airflow"), *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def _run_states(airflow_url: str, dag_id: str, run_type: str | None = None) -> list[str]:
    url = airflow_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT state FROM dag_run WHERE dag_id = %s AND (%s::text IS NULL OR run_type = %s) "
            "ORDER BY id",
            (dag_id, run_type, run_type),
        ).fetchall()
    return [row[0] for row in rows]


# train_models runs triggered by an event of an ohlcv_update run that symbol_sync's Asset
# triggered: the chain's own training. The scheduler's hourly ohlcv_update, started when the DAGs
# are unpaused, may write 1h candles mid-chain and trigger a training on a partial store first.
_CHAIN_TRAINING = """
SELECT DISTINCT t.id, t.state FROM dag_run t
JOIN dagrun_asset_event link ON link.dag_run_id = t.id
JOIN asset_event e ON e.id = link.event_id
JOIN dag_run u ON u.dag_id = e.source_dag_id AND u.run_id = e.source_run_id
WHERE t.dag_id = 'train_models' AND u.dag_id = 'ohlcv_update' AND u.run_type = 'asset_triggered'
ORDER BY t.id
"""


# An Asset-triggered update that wrote nothing emits no Asset event, so no training follows it:
# the store was already whole (a home filled before this Airflow database existed).
QUIET_SECONDS = 20.0  # no training queued this long after it: none is coming
_QUIET_UPDATE = """
SELECT u.id FROM dag_run u
WHERE u.dag_id = 'ohlcv_update' AND u.run_type = 'asset_triggered' AND u.state = 'success'
  AND NOT EXISTS (
    SELECT 1 FROM asset_event e WHERE e.source_dag_id = u.dag_id AND e.source_run_id = u.run_id
  )
"""


def _quiet_update(airflow_url: str) -> bool:
    url = airflow_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        return conn.execute(_QUIET_UPDATE).fetchone() is not None


def _chain_training_states(airflow_url: str) -> list[str]:
    url = airflow_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        return [row[1] for row in conn.execute(_CHAIN_TRAINING).fetchall()]


def run_pipeline_once(env: dict, timeout: float = 1800) -> None:
    airflow_url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if "success" in _chain_training_states(airflow_url):
        print("· the DAGs have run before: models are trained (trigger symbol_sync to refresh)")
        return
    for dag_id in (*OTHER_DAG_IDS, *reversed(DAG_IDS)):
        _airflow("dags", "unpause", dag_id, env=env)
    # Unpausing the daily symbol_sync usually schedules its latest run by itself; trigger one
    # only if the scheduler has not, so the chain runs once, not twice.
    grace = time.monotonic() + 45
    while not _run_states(airflow_url, "symbol_sync") and time.monotonic() < grace:
        time.sleep(2)
    if not _run_states(airflow_url, "symbol_sync"):
        _airflow("dags", "trigger", "symbol_sync", env=env)
    print("· running symbol_sync → ohlcv_update → train_models (chained by Assets)", flush=True)
    deadline, quiet_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        states = {dag_id: _run_states(airflow_url, dag_id) for dag_id in DAG_IDS}
        states["train_models"] = _chain_training_states(airflow_url)
        failed = [d for d, s in states.items() if s and s[-1] == "failed"]
        if failed:
            raise RuntimeError(
                f"DAG run failed: {failed}; see the Airflow UI or {env['AIRFLOW_HOME']}/logs"
            )
        if "success" in states["train_models"]:
            print("· all three DAGs succeeded")
            return
        training = _run_states(airflow_url, "train_models")
        quiet = _quiet_update(airflow_url) and not {"queued", "running"} & set(training[-1:])
        quiet_since = (quiet_since or time.monotonic()) if quiet else None
        if quiet_since is not None and time.monotonic() - quiet_since >= QUIET_SECONDS:
            print("· the store was already up to date: nothing new to train on")
            return
        time.sleep(5)
    raise RuntimeError(f"the DAGs did not finish within {timeout:.0f} s")


def airflow_env(
    settings: Settings, project_dir: Path, executor: str, port: int = AIRFLOW_PORT, **kwargs
) -> dict:
    """The shared environment of a stack's processes (the API server on `port`); with Celery,
    its broker and result backend."""
    shared = stack_env(settings, project_dir, **kwargs)
    shared["AIRFLOW__API__HOST"], shared["AIRFLOW__API__PORT"] = "127.0.0.1", str(port)
    if executor == "celery":
        shared |= celery_env(
            shared["REDIS_URL"], shared["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], port
        )
    elif executor != "local":
        raise ValueError(f"executor {executor!r}: use 'local' or 'celery'")
    return shared


def start_airflow(
    env: dict,
    run_dir: Path,
    log_dir: Path,
    executor: str,
    workers: int,
    port: int = AIRFLOW_PORT,
    concurrency: int = 2,
    worker_model_stores: Path | None = None,
) -> None:
    """`airflow standalone`, or the Celery stack: its components and `workers` workers of
    `concurrency` task slots each, sharing this host's model store (BENTOML_HOME), or each with
    its own under `worker_model_stores`/<worker> (as on hosts of their own)."""
    if executor == "local":
        _start("airflow", [_bin("airflow"), "standalone"], port, env, run_dir, log_dir)
        return
    if workers < 1:
        raise ValueError("the CeleryExecutor needs at least one worker (WORKERS=1 or more)")
    for component in AIRFLOW_COMPONENTS:
        argv = [_bin("airflow"), component]
        _start(
            f"airflow-{component}",
            argv,
            port if component == "api-server" else None,
            env,
            run_dir,
            log_dir,
        )
    for n in range(1, workers + 1):
        name = f"{WORKER_PREFIX}{n}"
        argv = worker_argv(_bin("airflow"), name, concurrency)
        store = None if worker_model_stores is None else worker_model_stores / name
        _start(name, argv, None, {**env, **worker_env(name, store)}, run_dir, log_dir)


def stop_airflow(run_dir: Path) -> list[str]:
    """Stop the workers first (they finish nothing new once the scheduler is gone), then the rest."""
    workers = sorted(p.stem for p in run_dir.glob(f"{WORKER_PREFIX}*.pid"))
    stopped = _stop_all(workers, run_dir)
    return stopped + _stop_all(["airflow", *(f"airflow-{c}" for c in AIRFLOW_COMPONENTS)], run_dir)


def up(settings: Settings, project_dir: Path, executor: str = "local", workers: int = 2) -> None:
    started = time.monotonic()
    shared = airflow_env(settings, project_dir, executor)
    env = {**os.environ, **shared}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    run_dir, log_dir = settings.run_dir, settings.home / "logs"
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "stack.env").write_text("".join(f"export {k}='{v}'\n" for k, v in shared.items()))
    print(f"· PostgreSQL: {env['DATABASE_URL']}\n· Redis: {env['REDIS_URL']}")
    _airflow("db", "migrate", env=env)
    _airflow("pools", "set", "market_data_api", "4", "Market data provider concurrency", env=env)
    _airflow("dags", "reserialize", env=env)
    start_airflow(env, run_dir, log_dir, executor, workers)
    wait_http(f"http://127.0.0.1:{AIRFLOW_PORT}/api/v2/monitor/health", 240, "Airflow")
    run_pipeline_once(env)
    _start(
        "bento",
        [
            _bin("bentoml"),
            "serve",
            "bento.service:Candlecast",
            "--host",
            "127.0.0.1",
            "--port",
            str(BENTO_PORT),
            "--working-dir",
            str(project_dir),
        ],
        BENTO_PORT,
        env,
        run_dir,
        log_dir,
    )
    wait_http(f"http://127.0.0.1:{BENTO_PORT}/readyz", 180, "the Bento")
    passwords = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    login = json.loads(passwords.read_text()) if passwords.exists() else {}
    body = '{"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": 30}'
    print(
        f"\ncandlecast is up ({time.monotonic() - started:.0f} s).\n"
        f"  Airflow UI   http://localhost:{AIRFLOW_PORT}  login: "
        + ", ".join(f"{user} / {password}" for user, password in login.items())
        + f"\n  Bento API    http://localhost:{BENTO_PORT}  (Swagger UI at /)\n"
        f"  Forecast:    curl -s -X POST http://localhost:{BENTO_PORT}/predict "
        f"-H 'Content-Type: application/json' -d '{body}'\n"
        f"  Executor:    {shared['AIRFLOW__CORE__EXECUTOR']}"
        + (
            f", {workers} Celery workers (logs {log_dir}/{WORKER_PREFIX}*.log)\n"
            if executor == "celery"
            else "\n"
        )
        + f"  Model store: BENTOML_HOME={env['BENTOML_HOME']} .venv/bin/bentoml models list\n"
        f"  Data Docs:   {settings.gx_dir / 'gx/uncommitted/data_docs/local_site/index.html'}\n"
        "  Stop:        make down"
    )


def down(settings: Settings) -> None:
    from candlecast.ops.embedded import stop_postgres, stop_redis

    run_dir = settings.run_dir
    stopped = ["bento"] if _stop("bento", run_dir) else []
    stopped += stop_airflow(run_dir)
    if settings.redis_url is None and stop_redis(settings.home):
        stopped.append("redis (embedded)")
    if settings.database_url is None and stop_postgres(settings.home):
        stopped.append("postgres (embedded)")
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
