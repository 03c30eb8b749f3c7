"""The one client library for the Takasago ledger: everything that talks to the node over JSON-RPC.

The CLI and every service (wallet, indexer, oracle, and the services to come)
import this package to connect, send transactions, decode reverts and read
events, so that these rules are written once. It imports nothing from the node
or any service; it reads contract ABIs through :mod:`contracts.artifacts`.
"""
