"""Alembic environment: plain SQL migrations, our own version table (Airflow has its own)."""

from alembic import context
from sqlalchemy import create_engine

from candlecast.ops.db import VERSION_TABLE

engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(connection=connection, version_table=VERSION_TABLE, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
