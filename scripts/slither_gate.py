"""Helpers for ``scripts/slither.sh`` (static analysis of ``contracts/src`` with Slither).

Runs under the Python of ``.venv-slither`` (standard library only; it never imports the
project's packages, whose pinned web3 stack conflicts with Slither's dependencies)::

    python scripts/slither_gate.py input > input.json
        The solc standard-JSON input for every ``contracts/src/**/*.sol``, with the
        compiler settings of ``hardhat.config.json`` -- the same sources and settings
        ``contracts/compile.py`` uses. Slither compiles it through crytic-compile's
        ``solc-json`` platform with ``contracts/solc-wrapper.js`` as ``solc``.

    python scripts/slither_gate.py check report.json [--triage slither.triage.json]
        The gate. Every High or Medium finding in Slither's JSON report must match an
        entry of the triage file (justified in ``docs/static-analysis.md``), and every
        entry must still match a finding. Exit 0 when both hold, 1 when not, 2 when
        Slither itself failed.

A finding is matched by its detector (``check``) and its *fingerprint*: Slither's
description with the ``(file#lines)`` locations removed, one line per element, e.g.::

    "RewardProgrammes.grantedThisPeriod(uint256,address) uses a dangerous strict equality:"
    "- packed >> 192 == _periodIndex(p.capPeriod)"

so moving code around does not invalidate a triage entry, while any change to the
flagged function's signature or to the flagged expressions does.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = REPO_ROOT / "contracts" / "src"
HARDHAT_CONFIG = REPO_ROOT / "hardhat.config.json"
WRAPPER = REPO_ROOT / "contracts" / "solc-wrapper.js"
DEFAULT_TRIAGE = REPO_ROOT / "slither.triage.json"

GATED_IMPACTS = ("High", "Medium")
# What crytic-compile needs to build Slither's model: the AST of every source unit,
# plus ABIs, bytecode and source maps of every contract.
OUTPUT_SELECTION = {
    "*": {
        "*": ["abi", "metadata", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode"],
        "": ["ast"],
    }
}
# " (contracts/src/RewardProgrammes.sol#383-404)" in a Slither description.
_LOCATION = re.compile(r"\s\([^()\s]+#\d+(?:-\d+)?\)")


# ---------------------------------------------------------------- input


def standard_json_input() -> dict[str, Any]:
    """The standard-JSON input: all of contracts/src, hardhat.config.json's settings."""
    solidity = json.loads(HARDHAT_CONFIG.read_text(encoding="utf-8"))["solidity"]
    expected = solidity["version"]
    found = subprocess.run(["node", str(WRAPPER), "--version"], check=True, capture_output=True, text=True).stdout
    match = re.search(r"Version: (\d+\.\d+\.\d+)", found)
    if not match or match.group(1) != expected:
        raise SystemExit(
            f"error: {HARDHAT_CONFIG.name} wants solc {expected}, but {WRAPPER.name} reports"
            f" {found.strip()!r}; run `npm ci`"
        )
    settings = dict(solidity.get("settings", {}))
    settings["outputSelection"] = OUTPUT_SELECTION
    files = sorted(SOURCE_DIR.rglob("*.sol"))
    if not files:
        raise SystemExit(f"error: no Solidity sources under {SOURCE_DIR}")
    sources = {f.relative_to(REPO_ROOT).as_posix(): {"content": f.read_text(encoding="utf-8")} for f in files}
    return {"language": "Solidity", "sources": sources, "settings": settings}


# ---------------------------------------------------------------- gate


def fingerprint(description: str) -> list[str]:
    """Slither's description without locations: one stripped line per element."""
    lines = (_LOCATION.sub("", line).strip() for line in description.splitlines())
    return [line for line in lines if line]


def location(result: dict[str, Any]) -> str:
    """``file#Lstart[-Lend]`` of the flagged statement (else of the first element)."""
    elements = result.get("elements", [])
    chosen = next((e for e in elements if e.get("type") == "node"), elements[0] if elements else None)
    if not chosen or "source_mapping" not in chosen:
        return "?"
    sm = chosen["source_mapping"]
    lines = sm.get("lines") or []
    where = f"#L{lines[0]}" + (f"-L{lines[-1]}" if len(lines) > 1 else "") if lines else ""
    return f"{sm.get('filename_relative', '?')}{where}"


def load_triage(path: Path) -> list[dict[str, Any]]:
    """The triage entries; each needs a check, a fingerprint, a verdict and a reason."""
    data = json.loads(path.read_text(encoding="utf-8"))
    entries = data.get("findings", [])
    problems = []
    for i, entry in enumerate(entries):
        missing = [k for k in ("check", "finding", "verdict", "reason") if not entry.get(k)]
        if missing or not isinstance(entry.get("finding"), list):
            problems.append(f"  entry {i}: needs non-empty check, finding (a list of lines), verdict and reason")
    if problems:
        raise SystemExit(f"error: {path} is malformed:\n" + "\n".join(problems))
    return entries


def gate(report: dict[str, Any], triage: list[dict[str, Any]], triage_name: str) -> int:
    """Prints the High/Medium findings with their verdicts; 0 when every one is triaged."""
    results = report.get("results", {}).get("detectors", [])
    keyed = {(e["check"], tuple(e["finding"])): e for e in triage}
    matched: set[tuple[str, tuple[str, ...]]] = set()
    rows = []
    unjustified = []
    for r in results:
        if r.get("impact") not in GATED_IMPACTS:
            continue
        key = (r["check"], tuple(fingerprint(r["description"])))
        entry = keyed.get(key)
        if entry is None:
            unjustified.append(r)
            verdict = "UNJUSTIFIED"
        else:
            matched.add(key)
            verdict = entry["verdict"]
        rows.append((r["impact"], r["confidence"], r["check"], location(r), verdict))

    rows.sort(key=lambda row: (GATED_IMPACTS.index(row[0]), row[2], row[3]))
    print(f"slither: {len(rows)} High/Medium finding(s) in contracts/src")
    if rows:
        widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
        for row in rows:
            print("  " + "  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4])

    others: dict[str, int] = {}
    for r in results:
        if r.get("impact") not in GATED_IMPACTS:
            others[f"{r['impact']}/{r['check']}"] = others.get(f"{r['impact']}/{r['check']}", 0) + 1
    if others:
        print("not gated: " + ", ".join(f"{k} x{v}" for k, v in sorted(others.items())))

    stale = [e for k, e in keyed.items() if k not in matched]
    status = 0
    if unjustified:
        status = 1
        print(
            f"\nFAIL: {len(unjustified)} High/Medium finding(s) not triaged. Fix the contract, or, if it"
            f" is by design, justify it in docs/static-analysis.md and add it to {triage_name}:",
            file=sys.stderr,
        )
        for r in unjustified:
            print(f"\n[{r['impact']}/{r['confidence']}] {r['check']} at {location(r)}", file=sys.stderr)
            print(r["description"].rstrip(), file=sys.stderr)
            suggestion = {
                "check": r["check"],
                "finding": fingerprint(r["description"]),
                "verdict": "...",
                "reason": "...",
            }
            print("triage entry: " + json.dumps(suggestion, ensure_ascii=False), file=sys.stderr)
    if stale:
        status = 1
        print(
            f"\nFAIL: stale entries in {triage_name}: they match no finding any more (fixed or changed"
            " code?); remove or update them, and docs/static-analysis.md:",
            file=sys.stderr,
        )
        for e in stale:
            print(f"  {e['check']}: {e['finding'][0]}", file=sys.stderr)
    if status == 0:
        print(f"slither gate: OK (every High/Medium finding is justified in {triage_name})")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="slither_gate.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("input", help="print the standard-JSON compiler input for contracts/src")
    check = sub.add_parser("check", help="gate a Slither JSON report against the triage file")
    check.add_argument("report", type=Path)
    check.add_argument("--triage", type=Path, default=DEFAULT_TRIAGE)
    args = parser.parse_args(argv)

    if args.command == "input":
        json.dump(standard_json_input(), sys.stdout)
        return 0

    try:
        report = json.loads(args.report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: no readable Slither report at {args.report}: {exc}", file=sys.stderr)
        return 2
    if not report.get("success"):
        print(f"error: Slither failed: {report.get('error')}", file=sys.stderr)
        return 2
    triage = load_triage(args.triage)
    try:
        name = args.triage.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        name = str(args.triage)
    return gate(report, triage, name)


if __name__ == "__main__":
    sys.exit(main())
