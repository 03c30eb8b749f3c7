"""The city's data platform (issue 22): pseudonymous activity pulled from the other services,
indicators computed on DuckDB (or PostgreSQL), k-anonymous pages and monthly exports."""
