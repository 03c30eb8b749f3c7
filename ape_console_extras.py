"""Loaded by `ape console`: make ape read this chain's proof-of-authority headers.

ape 0.8 detects PoA chains only through an error its own web3 set-up never raises,
so the seals in extraData (> 32 bytes, as on Besu QBFT and Clique) break every block
read until web3's ExtraDataToPOAMiddleware is added.
"""

from typing import Any


def ape_init_extras(networks: Any) -> None:
    from web3.middleware import ExtraDataToPOAMiddleware

    provider = networks.active_provider
    if provider is not None and getattr(provider, "web3", None) is not None:
        provider.web3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
