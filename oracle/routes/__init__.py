"""The oracle's routers: batch ingest, public reports and proofs, health."""
