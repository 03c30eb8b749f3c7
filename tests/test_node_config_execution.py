"""node.json's ``execution`` object: the worker's mode and the smallest block sent to it (docs/genesis.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from node.config import WORKER_MIN_TRANSACTIONS, ConfigError, load_node_config


def _load(tmp_path: Path, execution: Any) -> tuple[str, int]:
    (tmp_path / "node.json").write_text(json.dumps({"validatorKeystore": None, "dev": True, "execution": execution}))
    config = load_node_config(tmp_path)
    return config.execution_worker, config.execution_worker_min_transactions


def test_defaults_are_auto_and_small_blocks_in_process(tmp_path: Path) -> None:
    (tmp_path / "node.json").write_text(json.dumps({"validatorKeystore": None, "dev": True}))
    config = load_node_config(tmp_path)
    assert (config.execution_worker, config.execution_worker_min_transactions) == ("auto", WORKER_MIN_TRANSACTIONS)
    assert _load(tmp_path, {}) == ("auto", WORKER_MIN_TRANSACTIONS)
    assert _load(tmp_path, {"worker": "pypy", "workerMinTransactions": 0}) == ("pypy", 0)
    assert _load(tmp_path, {"workerMinTransactions": 500}) == ("auto", 500)


@pytest.mark.parametrize(
    ("execution", "message"),
    [
        ("pypy", "execution must be an object"),
        ({"worker": "jit"}, "execution.worker must be one of auto, pypy, cpython, off"),
        ({"threads": 2}, "execution: unknown setting(s) threads"),
        ({"workerMinTransactions": -1}, "execution.workerMinTransactions must be a whole number from 0 to 100000"),
        ({"workerMinTransactions": 64.5}, "execution.workerMinTransactions must be a whole number"),
        ({"workerMinTransactions": True}, "execution.workerMinTransactions must be a whole number"),
        ({"workerMinTransactions": "64"}, "execution.workerMinTransactions must be a whole number"),
    ],
)
def test_a_wrong_execution_setting_is_named_with_what_it_must_be(tmp_path: Path, execution: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, execution)
    assert str(caught.value).startswith(f"{tmp_path / 'node.json'}: {message}")
