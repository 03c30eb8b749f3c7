"""The explorer's routers: pages, CSV exports, the Etherscan-compatible ``/api`` and health."""
