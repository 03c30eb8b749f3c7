"""Standard Ethereum JSON-RPC over HTTP and WebSocket for the Takasago node."""
