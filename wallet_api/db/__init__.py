"""Storage: the tables, the engine (SQLite or PostgreSQL) and migrations."""
