"""``net_*`` and ``web3_*``: who this node is and whether it is connected."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eth_utils import keccak

from node import CLIENT_VERSION
from node.records import hex_bytes, hex_int
from node.rpc import params as p

if TYPE_CHECKING:
    from node.rpc.api import EthAPI


async def client_version(api: EthAPI, params: Any) -> str:
    p.expect(params, 0, 0)
    return CLIENT_VERSION


async def sha3(api: EthAPI, params: Any) -> str:
    (value,) = p.expect(params, 1, 1)
    return hex_bytes(keccak(p.data(value, "data")))


async def version(api: EthAPI, params: Any) -> str:
    p.expect(params, 0, 0)
    return str(api.ledger.genesis.chain_id)


async def listening(api: EthAPI, params: Any) -> bool:
    p.expect(params, 0, 0)
    return True


async def peer_count(api: EthAPI, params: Any) -> str:
    p.expect(params, 0, 0)
    return hex_int(len(api.consensus.network.peers())) if api.consensus is not None else "0x0"
