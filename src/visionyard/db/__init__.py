"""Database layer shared by the dashboard and the agents: typed ORM models, engine set-up,
Alembic migrations. SQLite by default, PostgreSQL in production."""
