# syntax=docker/dockerfile:1
# The candlecast image: every Airflow component of deploy/compose.yaml (api-server, scheduler,
# dag-processor, triggerer, Celery workers, Flower) and the Bento run from it, with this
# checkout's package, DAGs and Bento service. Build: docker compose -f deploy/compose.yaml build
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/candlecast/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/candlecast/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    CANDLECAST_HOME=/opt/candlecast-home \
    BENTOML_HOME=/opt/candlecast-home/bentoml \
    BENTOML_DO_NOT_TRACK=True \
    GX_ANALYTICS_ENABLED=false \
    KERAS_BACKEND=jax \
    OMP_WAIT_POLICY=PASSIVE

# tini reaps the children of airflow and bentoml; libgomp1 is XGBoost's OpenMP runtime.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 50000 --gid 0 --home-dir /opt/airflow --create-home candlecast \
 && mkdir -p /opt/candlecast-home && chown 50000:0 /opt/candlecast-home

WORKDIR /opt/candlecast
# Dependencies first (a layer that survives code changes), exactly as the lock resolves them.
COPY requirements.txt requirements.lock.txt ./
RUN pip install -r requirements.txt -c requirements.lock.txt

COPY pyproject.toml README.md bentofile.yaml ./
COPY include/ include/
COPY dags/ dags/
COPY plugins/ plugins/
COPY bento/ bento/
RUN pip install --no-deps --no-build-isolation . && python -c "import candlecast, airflow.providers.celery"

USER 50000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["airflow", "version"]
