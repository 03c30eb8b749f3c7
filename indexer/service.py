"""Wiring: the database, the node client, labels and the follower, from the settings."""

from __future__ import annotations

from fastapi import FastAPI

from contracts.predeploys import REGISTRY_ADDRESS
from indexer.db.engine import engine_for, sessions_for, upgrade
from indexer.follower import Follower
from indexer.labels import load_labels
from indexer.settings import IndexerSettings
from indexer.shop_names import LiveLabels, ShopDirectory
from indexer.web.app import create_explorer
from ledger_client.deployment import DeploymentError, deployment_path, read_deployment
from ledger_client.rpc import NodeUnavailable, Rpc


def known_contracts(settings: IndexerSettings, rpc: Rpc) -> dict[str, str]:
    contracts = {"AccountRegistry": REGISTRY_ADDRESS}
    try:
        chain_id = int(rpc.call("eth_chainId"), 16)
        deployment = read_deployment(deployment_path(settings.deployments_dir, chain_id))
    except (NodeUnavailable, DeploymentError, ValueError):
        return contracts
    if deployment is not None:
        contracts.update({name: record.address for name, record in deployment.contracts.items()})
    return contracts


def build_app(settings: IndexerSettings, follow: bool = True) -> FastAPI:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database)
    sessions = sessions_for(engine_for(settings.database))
    rpc = Rpc(settings.rpc_url)
    follower = (
        Follower(Rpc(settings.rpc_url), sessions, settings.deployments_dir, settings.batch_blocks) if follow else None
    )
    shops = ShopDirectory(settings.shops_url, settings.shops_refresh_seconds)
    labels = LiveLabels(load_labels(settings.labels_file), shops)  # shop names followed as the city approves them
    return create_explorer(sessions, rpc, labels, known_contracts(settings, rpc), follower, shops)
