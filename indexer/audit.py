"""``takasago audit verify``: re-check the chain and the index against the node, independently.

1. **Chain** (from genesis, or ``--from`` a later block, whose parent link is checked
   against the node's header of the block before it, so a long-lived chain's auditor
   need not start at genesis each time): every block's raw header hashes to its id;
   parent links hold; the transactions root is recomputed from the raw transactions;
   every block after genesis carries a seal by a validator authorised at its parent (the registry's
   ``validators()`` called at that height), the first seal is the proposer's (the
   coinbase), and the header's validator list equals the authorised set; and the block
   is final: its commit certificate (``takasago_getCommitCertificate``) holds seals over
   the block hash from at least ⌈2n/3⌉ distinct validators authorised at its parent (a
   one-validator chain's header seal is its quorum). This is written from the QBFT
   specification, not by reusing the node's code.
2. **Index**: every indexed block hash equals the node's; at the chosen block, each
   account's balance derived from the indexed movements equals what the token holds
   for it (``balanceOf`` plus expired, not yet swept points); and the supply derived
   from the index equals ``totalSupply`` and ``issued − settled − swept``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rlp
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_utils import keccak, to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from trie import HexaryTrie

from contracts.predeploys import REGISTRY_ADDRESS
from indexer import queries
from indexer.db.models import Block, Event
from ledger_client.deployment import deployment_path, read_deployment
from ledger_client.rpc import Rpc, RpcError

BATCH = 100


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


@dataclass
class AuditReport:
    at_block: int = 0
    blocks_checked: int = 0
    transactions_checked: int = 0
    accounts_checked: int = 0
    finality_checked: int = 0  # blocks whose commit certificate was verified (0: the node serves none)
    certificates_served: bool = True  # False: the node is another client (anvil, Besu) with no certificates
    sealed_alone: int = 0  # blocks sealed by the only validator: its seal (checked) is the whole quorum

    def finality_line(self) -> str:
        """What the finality check did, in words: "0 verified" alone read as a failure to a first-time auditor."""
        if not self.certificates_served:
            return "commit certificates not checked: this node does not serve them (not a Takasago node)"
        if self.finality_checked == 0 and self.sealed_alone:
            return (
                "no commit certificates to check: a single validator seals every block, so its seal "
                "(checked above) is the whole quorum and no certificate is issued"
            )
        line = f"{self.finality_checked} commit certificates verified"
        if self.sealed_alone:
            line += f" ({self.sealed_alone} blocks sealed by a single validator need none)"
        return line

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < 200:
            self.problems.append(text)


class Auditor:
    def __init__(self, rpc: Rpc, sessions: sessionmaker[Session] | None, deployments_dir: Path) -> None:
        self.rpc = rpc
        self.sessions = sessions
        self.deployments_dir = deployments_dir

    def call(self, to: str, data: str, block: int) -> bytes:
        return bytes.fromhex(self.rpc.call("eth_call", {"to": to, "data": data}, hex(block))[2:])

    # -- 1. the chain ----------------------------------------------------------------------------
    def verify_chain(self, report: AuditReport, upto: int, first: int = 0) -> dict[int, str]:
        """Blocks ``first``..``upto``; from a later block than genesis, its parent link is checked
        against the hash of the node's raw header of the block before it."""
        hashes: dict[int, str] = {}
        previous: str | None = None
        certificates = self._serves_certificates()
        report.certificates_served = certificates
        if first > 0:
            raw_parent = self.rpc.call("debug_getRawHeader", hex(first - 1))
            if raw_parent is None:
                report.problem(f"block {first - 1}: the node does not have it")
            else:
                previous = "0x" + keccak(bytes.fromhex(raw_parent[2:])).hex()
        for start in range(first, upto + 1, BATCH):
            numbers = list(range(start, min(upto, start + BATCH - 1) + 1))
            calls: list[tuple[str, list[Any]]] = [("debug_getRawHeader", [hex(n)]) for n in numbers]
            calls += [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
            calls += [
                ("eth_call", [{"to": REGISTRY_ADDRESS, "data": selector("validators()")}, hex(n - 1)])
                for n in numbers
                if n > 0
            ]
            later = [n for n in numbers if n > 0]
            if certificates:
                calls += [("takasago_getCommitCertificate", [hex(n)]) for n in later]
            results = self.rpc.batch(calls)
            raws, blocks = results[: len(numbers)], results[len(numbers) : 2 * len(numbers)]
            authorised = iter(results[2 * len(numbers) : 2 * len(numbers) + len(later)])
            found = dict(zip(later, results[2 * len(numbers) + len(later) :], strict=False))
            for n, raw_hex, block in zip(numbers, raws, blocks, strict=True):
                report.blocks_checked += 1
                if raw_hex is None or block is None:
                    report.problem(f"block {n}: the node does not have it")
                    continue
                raw = bytes.fromhex(raw_hex[2:])
                block_hash = "0x" + keccak(raw).hex()
                hashes[n] = block_hash
                if block_hash != block["hash"]:
                    report.problem(f"block {n}: its header hashes to {block_hash}, not {block['hash']}")
                fields = rlp.decode(raw)
                parent = "0x" + fields[0].hex()
                if previous is not None and parent != previous:
                    report.problem(f"block {n}: parent {parent} is not block {n - 1} ({previous})")
                previous = block_hash
                self._verify_transactions(report, n, fields, block)
                if n > 0:
                    validators = [
                        to_checksum_address(a)
                        for a in abi_decode(["address[]"], bytes.fromhex(next(authorised)[2:]))[0]
                    ]
                    self._verify_seal(report, n, fields, validators)
                    if certificates:
                        self._verify_finality(report, n, keccak(raw), found.get(n), validators)
        return hashes

    def _serves_certificates(self) -> bool:
        """Our node serves commit certificates; another client (anvil, Besu) does not."""
        try:
            self.rpc.call("takasago_getCommitCertificate", "0x0")
        except RpcError:
            return False
        return True

    def _verify_finality(
        self, report: AuditReport, n: int, block_hash: bytes, certificate: Any, authorised: Sequence[str]
    ) -> None:
        if certificate is None:
            if len(authorised) != 1:
                report.problem(f"block {n}: no commit certificate, so nothing shows it is final")
            else:
                report.sealed_alone += 1
            return
        if certificate.get("blockHash") != "0x" + block_hash.hex():
            report.problem(f"block {n}: the commit certificate is for {certificate.get('blockHash')}")
            return
        signers: set[str] = set()
        for seal in certificate.get("seals", []):
            try:
                signer = keys.Signature(bytes.fromhex(seal[2:])).recover_public_key_from_msg_hash(block_hash)
            except (BadSignature, ValueError):
                report.problem(f"block {n}: a commit seal is not a valid signature")
                return
            address = signer.to_checksum_address()
            if address not in authorised:
                report.problem(f"block {n}: commit seal by {address}, which was not an authorised validator")
            signers.add(address)
        needed = -(-2 * len(authorised) // 3)
        if len(signers & set(authorised)) < needed:
            report.problem(f"block {n}: {len(signers)} commit seals, {needed} of {len(authorised)} needed to be final")
        report.finality_checked += 1

    def _verify_transactions(self, report: AuditReport, n: int, fields: list[bytes], block: dict[str, Any]) -> None:
        tx_hashes = block["transactions"]
        raws = self.rpc.batch([("debug_getRawTransaction", [h]) for h in tx_hashes]) if tx_hashes else []
        tree = HexaryTrie({})
        for index, (tx_hash, raw_hex) in enumerate(zip(tx_hashes, raws, strict=True)):
            report.transactions_checked += 1
            if raw_hex is None:
                report.problem(f"block {n}: transaction {tx_hash} has no raw form on the node")
                return
            raw = bytes.fromhex(raw_hex[2:])
            if "0x" + keccak(raw).hex() != tx_hash:
                report.problem(f"block {n}: transaction {tx_hash} does not hash to its id")
            tree[rlp.encode(index)] = raw
        if tree.root_hash != fields[4]:
            report.problem(f"block {n}: transactions root 0x{fields[4].hex()} does not match its transactions")

    def _verify_seal(self, report: AuditReport, n: int, fields: list[bytes], authorised: Sequence[str]) -> None:
        try:
            vanity, validators, vote, round_, seals = rlp.decode(fields[12])
        except (rlp.DecodingError, ValueError):
            report.problem(f"block {n}: extraData is not the QBFT layout")
            return
        listed = [to_checksum_address(v) for v in validators]
        if listed != list(authorised):
            report.problem(f"block {n}: the header lists validators {listed}, the registry authorised {authorised}")
        if not seals:
            report.problem(f"block {n}: no seal")
            return
        unsealed = list(fields)
        unsealed[12] = rlp.encode([vanity, validators, vote, round_, []])
        digest = keccak(rlp.encode(unsealed))
        signers = []
        for raw in seals:
            try:
                signers.append(keys.Signature(raw).recover_public_key_from_msg_hash(digest).to_checksum_address())
            except (BadSignature, ValueError):
                report.problem(f"block {n}: a seal is not a valid signature")
                return
        for signer in signers:
            if signer not in authorised:
                report.problem(f"block {n}: sealed by {signer}, which was not an authorised validator")
        if len(set(signers)) != len(signers):
            report.problem(f"block {n}: two seals by the same validator")
        if signers[0] != to_checksum_address(fields[2]):
            report.problem(
                f"block {n}: the proposer's seal is by {signers[0]}, the coinbase is {to_checksum_address(fields[2])}"
            )

    # -- 2. the index against the node --------------------------------------------------------
    def verify_index(self, report: AuditReport, at: int, hashes: dict[int, str]) -> None:
        assert self.sessions is not None
        chain_id = int(self.rpc.call("eth_chainId"), 16)
        deployment = read_deployment(deployment_path(self.deployments_dir, chain_id))
        if deployment is None or "RegionalPoints" not in deployment.contracts:
            report.problem("no deployment file for this chain: cannot check balances")
            return
        token = deployment.contracts["RegionalPoints"]
        with self.sessions() as db:
            indexed = dict(db.execute(select(Block.number, Block.hash).where(Block.number <= at)).all())
            derived = queries.balances(db, at)
            supply = queries.supply(db, at)
            accounts = set(derived)
            for (args,) in db.execute(
                select(Event.args).where(Event.name == "AccountRegistered", Event.block_number <= at)
            ):
                accounts.add(str(args["account"]))
        for n, block_hash in hashes.items():
            if indexed.get(n) != block_hash:
                report.problem(f"index: block {n} is {indexed.get(n)} in the index, {block_hash} on the node")
        first_month = int.from_bytes(self.call(token.address, selector("currentMonth()"), max(token.block, 0)), "big")
        self._verify_balances(report, token.address, at, first_month, derived, sorted(accounts))
        self._verify_supply(report, token.address, at, supply)

    def _verify_balances(
        self, report: AuditReport, token: str, at: int, first_month: int, derived: dict[str, int], accounts: list[str]
    ) -> None:
        """Each account's balance from the index equals what the token holds for it (spendable plus expired)."""
        for start in range(0, len(accounts), BATCH):
            chunk = accounts[start : start + BATCH]
            calls = []
            for account in chunk:
                argument = abi_encode(["address"], [account]).hex()
                calls.append(("eth_call", [{"to": token, "data": selector("balanceOf(address)") + argument}, hex(at)]))
                expired = abi_encode(["address", "uint256"], [account, max(first_month - 1, 0)]).hex()
                calls.append(
                    (
                        "eth_call",
                        [{"to": token, "data": selector("expiredBalanceOf(address,uint256)") + expired}, hex(at)],
                    )
                )
            results = self.rpc.batch(calls)
            for i, account in enumerate(chunk):
                held = int(results[2 * i], 16) + int(results[2 * i + 1], 16)
                report.accounts_checked += 1
                if derived.get(account, 0) != held:
                    report.problem(
                        f"balance of {account} at block {at}: {derived.get(account, 0)} from the index, "
                        f"{held} on the node"
                    )

    def _verify_supply(self, report: AuditReport, token: str, at: int, supply: queries.Supply) -> None:
        """The index's supply equals ``totalSupply`` and the token's issued − settled − swept."""
        total = int.from_bytes(self.call(token, selector("totalSupply()"), at), "big")
        issued, settled, swept = abi_decode(
            ["uint256", "uint256", "uint256"], self.call(token, selector("totals()"), at)
        )
        if total != issued - settled - swept:
            report.problem(f"totalSupply {total} ≠ issued {issued} − settled {settled} − swept {swept} on the node")
        if (supply.issued, supply.settled, supply.swept) != (issued, settled, swept):
            report.problem(
                f"supply from the index (issued {supply.issued}, settled {supply.settled}, swept {supply.swept}) "
                f"≠ the token's totals (issued {issued}, settled {settled}, swept {swept})"
            )
        if supply.circulating != total:
            report.problem(f"points in circulation from the index {supply.circulating} ≠ totalSupply {total}")

    def verify(self, at: int | None = None, first: int = 0) -> AuditReport:
        """The chain from block ``first`` (genesis by default; a later block for an auditor who
        verified the blocks before it already) up to ``at``, then the index at ``at``."""
        head = int(self.rpc.call("eth_blockNumber"), 16)
        if self.sessions is not None:
            with self.sessions() as db:
                cp = queries.head(db)
            indexed_head = cp.block_number if cp else -1
            head = min(head, indexed_head)
        at = head if at is None else at
        report = AuditReport(at_block=at)
        if at < 0:
            report.problem("nothing is indexed yet")
            return report
        if at > head:
            report.problem(f"block {at} is beyond the indexed and sealed head ({head})")
            return report
        if first > at:
            report.problem(f"block {first} to start from is after block {at}")
            return report
        hashes = self.verify_chain(report, at, first)
        if self.sessions is not None:
            self.verify_index(report, at, hashes)
        return report
