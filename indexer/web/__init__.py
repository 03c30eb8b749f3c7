"""The explorer: server-rendered pages, CSV exports and an Etherscan-compatible API."""
