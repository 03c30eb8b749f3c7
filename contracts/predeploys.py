"""Where the chain's predeployed contracts live: one address, shared by genesis and every client.

The node writes the AccountRegistry proxy at this address in genesis
(``node.genesis``); the deployer finds it there, and the clients and tests look
it up here instead of spelling the address again.
"""

REGISTRY_ADDRESS = "0x0000000000000000000000000000000054a5A600"
"""The AccountRegistry proxy in every genesis this project writes (checksummed)."""
