"""Storage of the indexed chain: tables, engine and migrations."""
