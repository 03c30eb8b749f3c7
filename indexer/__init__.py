"""The indexer and explorer: an SQL copy of the ledger for auditors, and the pages that show it."""
