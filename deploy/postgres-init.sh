#!/bin/bash
# First start of the PostgreSQL volume: one role and one database for Airflow's metadata (and
# Celery's results), one for candlecast's. Passwords come from the env file through compose.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE airflow LOGIN PASSWORD '${AIRFLOW_DB_PASSWORD}';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE candlecast LOGIN PASSWORD '${CANDLECAST_DB_PASSWORD}';
CREATE DATABASE candlecast OWNER candlecast;
SQL
