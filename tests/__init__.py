"""Tests of the Takasago ledger (a package so that `tests.*` never resolves to a third-party `tests`)."""
