"""The database: SQLAlchemy tables and engine set-up (SQLite by default, PostgreSQL too)."""
