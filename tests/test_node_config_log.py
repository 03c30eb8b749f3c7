"""node.json's ``log`` object: every key optional, and a wrong one named precisely (docs/genesis.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from node.config import ConfigError, LogConfig, load_node_config


def _load(tmp_path: Path, log: Any) -> LogConfig:
    (tmp_path / "node.json").write_text(json.dumps({"validatorKeystore": None, "dev": True, "log": log}))
    return load_node_config(tmp_path).log


def test_a_missing_log_object_means_standard_error_and_default_rotation(tmp_path: Path) -> None:
    (tmp_path / "node.json").write_text(json.dumps({"validatorKeystore": None, "dev": True}))
    assert load_node_config(tmp_path).log == LogConfig()
    assert _load(tmp_path, {}) == LogConfig()


def test_log_settings_are_read_and_the_file_is_inside_the_data_directory(tmp_path: Path) -> None:
    log = _load(tmp_path, {"file": "node.log", "maxBytes": 65_536, "backupCount": 0, "summaryEveryBlocks": 10})
    assert log == LogConfig(file=tmp_path / "node.log", max_bytes=65_536, backup_count=0, summary_every_blocks=10)


@pytest.mark.parametrize(
    ("log", "message"),
    [
        ([], "log must be an object"),
        ({"level": "debug", "colour": 1}, "log: unknown setting(s) colour, level"),
        ({"file": ""}, "log.file must be a path"),
        ({"file": 5}, "log.file must be a path"),
        ({"maxBytes": 1024}, "log.maxBytes must be an integer between 4096 and 1.09951e+12"),
        ({"backupCount": 1.5}, "log.backupCount must be an integer between 0 and 1000"),
        ({"backupCount": True}, "log.backupCount must be an integer between 0 and 1000"),
        ({"summaryEveryBlocks": 0}, "log.summaryEveryBlocks must be an integer between 1 and 1e+09"),
        ({"maxBytes": None}, "log.maxBytes must be an integer"),
    ],
)
def test_a_wrong_log_setting_is_named_with_what_it_must_be(tmp_path: Path, log: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, log)
    assert str(caught.value).startswith(f"{tmp_path / 'node.json'}: {message}")
