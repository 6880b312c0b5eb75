"""The DAG chain (symbol_sync → ohlcv_update → train_models) on the CeleryExecutor with one
worker, then with two, in the same run on this machine: the wall time from the first DAG run to
the trained models, and the ratio. `--ingest` stops the chain at ohlcv_update (train_models
stays paused): the data half, in a few minutes per run.

Each run starts from nothing (its own home, Airflow database and Parquet store; the same
embedded PostgreSQL and Redis), with the bundled sample's five pairs served by the loopback fake
provider (no plan limit, so the provider is not what is measured) and one mapped update per
pair. Each worker runs one task at a time (--concurrency 1): the figure is what a second worker
adds. Whole chain: ~40 min on 2 cores (the weekly train_models run that unpausing schedules
trains too, as under `make up`)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from candlecast.marketdata import SampleProvider  # noqa: E402
from candlecast.ops import embedded  # noqa: E402
from candlecast.settings import SAMPLE_DATA_DIR, Settings  # noqa: E402
from tests.support.celery_stack import celery_stack, worker_names  # noqa: E402
from tests.support.fake_provider import FakeProvider  # noqa: E402


def run_chain(
    root: Path, workers: int, database_url: str, redis_url: str, fake, training: bool
) -> float:
    settings = Settings(
        _env_file=None,
        candlecast_home=root / f"home-{workers}",
        database_url=database_url,
        redis_url=redis_url,
    )
    extra = {
        "CANDLECAST_PROVIDER": "polygon",
        "POLYGON_API_KEY": fake.faults.api_key,
        "POLYGON_BASE_URL": fake.base_url,
        "CANDLECAST_NOW": SampleProvider(SAMPLE_DATA_DIR).now().isoformat(),
        "CANDLECAST_SYMBOL_BATCH_SIZE": "1",
    }
    with celery_stack(
        settings, workers, extra, timeout=3600, concurrency=1, through_training=training
    ) as stack:
        used = set().union(*worker_names(stack["env"]).values())
        print(f"  {workers} worker(s): {stack['seconds']:.0f} s, tasks ran on {sorted(used)}")
        return stack["seconds"]


def main() -> None:
    training = "--ingest" not in sys.argv[1:]
    chain = "symbol_sync → ohlcv_update" + (" → train_models" if training else "")
    root = Path(tempfile.mkdtemp(prefix="cc-bench-celery-"))
    data = root / "provider"
    shutil.copytree(SAMPLE_DATA_DIR, data)
    database_url, redis_url = embedded.start_postgres(root), embedded.start_redis(root)
    try:
        with FakeProvider(data) as fake:
            one = run_chain(root, 1, database_url, redis_url, fake, training)
            two = run_chain(root, 2, database_url, redis_url, fake, training)
        print(
            f"{chain} wall time: 1 Celery worker {one:.0f} s, 2 workers {two:.0f} s; "
            f"ratio (1 / 2) {one / two:.2f}x on this 2-core machine"
        )
    finally:
        embedded.stop_redis(root)
        embedded.stop_postgres(root)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
