"""The ``eth_*`` namespace, one module per concern: chain and fees, account state, code
execution, transactions, blocks, logs and filters. ``method_table.py`` names each handler."""
