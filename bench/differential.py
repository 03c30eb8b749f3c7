"""Differential run: the same signed transactions on anvil and on a takasago node.

The sequence and the comparison live in ``tests/differential`` (see its docstring for
what is compared); this is the command form for a node you already run::

    python -m bench.differential --node-url http://127.0.0.1:8545 --data-dir DIR   # starts anvil itself
    python -m bench.differential --node-url URL --anvil-url URL --key 0x... [--spender-key 0x...]

Exit status 1 on any difference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tests.differential import Report, anvil_process, format_report, run_sequence


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--node-url", required=True)
    parser.add_argument("--anvil-url", help="a fresh anvil (chain 1337, prague, zero fees); started if omitted")
    parser.add_argument("--key", help="sender key (registered on the node); default: admin from --data-dir")
    parser.add_argument("--spender-key", help="second registered sender; default: accounts[0] from --data-dir")
    parser.add_argument("--data-dir", type=Path, help="node data dir with dev-keys.json")
    args = parser.parse_args(argv)
    key, spender = args.key, args.spender_key
    if args.data_dir is not None:
        dev = json.loads((args.data_dir / "dev-keys.json").read_text())
        key = key or dev["admin"]["privateKey"]
        spender = spender or dev["accounts"][0]["privateKey"]
    if key is None:
        parser.error("--key or --data-dir is required")

    def go(anvil_url: str) -> Report:
        return run_sequence(
            args.node_url, anvil_url, key, spender, progress=lambda s: print(f"  .. {s}", file=sys.stderr)
        )

    if args.anvil_url:
        report = go(args.anvil_url)
    else:
        with anvil_process() as url:
            report = go(url)
    print(format_report(report))
    return 1 if report.differences else 0


if __name__ == "__main__":
    sys.exit(main())
