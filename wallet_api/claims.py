"""Residents' claims on reward programmes, decided by a city officer.

A claim (programme, units, evidence such as "cleaned the Takasago river bank on 3 May",
and a photo where the programme's rules ask for one) waits for a city officer; approval
attests it on-chain from the service's verifier key, with the claim's row id as the claim
id, so the programme pays it at most once. A rejection carries the officer's reason, which
the resident sees. A claim the wallet could never attest (a closed programme, one outside
its window, one whose points the oracle or another service grants) is refused when it is
made, not after an officer's time was spent on it.
"""

from __future__ import annotations

import uuid

from eth_utils import keccak
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api import notices
from wallet_api.accounts import Accounts
from wallet_api.auth import now
from wallet_api.db.models import Claim, Operation, User
from wallet_api.db.models_programmes import ClaimDecision, ClaimPhoto, EvidenceRule
from wallet_api.errors import ApiError
from wallet_api.ledger import Ledger
from wallet_api.outbox import Outbox
from wallet_api.programmes import Programmes
from wallet_api.programmes_evidence import Evidence
from wallet_api.statuses import ClaimStatus, OperationKind, OperationStatus

CLAIM_ID_BASE = 1 << 48  # wallet-API claims live above the CLI's batch<<32|line ids


class Claims:
    def __init__(self, sessions: sessionmaker[DbSession], ledger: Ledger, outbox: Outbox, accounts: Accounts) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.outbox = outbox
        self.accounts = accounts
        # the programmes' terms and the evidence photos, built here from what the claims already hold
        self.programmes = Programmes(sessions, ledger, accounts.service_address)
        self.evidence = Evidence(sessions, accounts.keyring)

    def submit(self, user: User, programme_id: int, units: int, evidence: str, photo_id: str | None = None) -> Claim:
        """A pending claim on an open programme the wallet can attest, with the photo its rules ask for.

        Refused: UNKNOWN_PROGRAMME, PROGRAMME_NOT_ACTIVE (closed, outside its window, budget
        spent), PROGRAMME_NOT_CLAIMABLE (granted by another service), EVIDENCE_PHOTO_REQUIRED,
        PHOTO_UNKNOWN (not this resident's, or already used). The photo is attached in the
        claim's own transaction, so a photo serves one claim only.
        """
        programme = self.programmes.on_chain(programme_id)
        if not programme.open_at(self.programmes.chain_time()):
            raise ApiError("PROGRAMME_NOT_ACTIVE", {"programme_id": programme_id})
        if not self.programmes.claimable(programme):
            raise ApiError("PROGRAMME_NOT_CLAIMABLE", {"programme_id": programme_id})
        with self.sessions() as db:
            rules = self.programmes.rules_of(db, programme_id)
        if rules is not None and rules.evidence == EvidenceRule.PHOTO and not photo_id:
            raise ApiError("EVIDENCE_PHOTO_REQUIRED", {"programme_id": programme_id})
        claim = Claim(
            public_id=str(uuid.uuid4()),
            user_id=user.id,
            programme_id=programme_id,
            units=units,
            evidence=evidence,
            status=ClaimStatus.PENDING,
            created_at=now(),
        )
        with self.sessions.begin() as db:
            db.add(claim)
            if photo_id:
                photo = db.get(ClaimPhoto, photo_id, with_for_update=True)
                if photo is None or photo.user_id != user.id or photo.claim_id is not None:
                    raise ApiError("PHOTO_UNKNOWN")
                db.flush()  # the claim's id, for the photo
                photo.claim_id = claim.id
        return claim

    def decide(
        self, officer: User, public_id: str, approve: bool, key: str, reason: str = ""
    ) -> tuple[Claim, Operation | None]:
        """Rejects the claim (``reason`` is shown to the resident), or attests it on-chain (granted once confirmed)."""
        with self.sessions() as db:
            claim = db.scalar(select(Claim).where(Claim.public_id == public_id))
            claimant = db.get(User, claim.user_id) if claim is not None else None
        if claim is None or claimant is None:
            raise ApiError("NOT_FOUND")
        if claim.status != ClaimStatus.PENDING:
            raise ApiError("CLAIM_NOT_PENDING", {"status": claim.status})
        if not approve:
            with self.sessions.begin() as db:
                row = db.get(Claim, claim.id)
                assert row is not None
                row.status = ClaimStatus.REJECTED
                row.decided_by = officer.id
                db.add(ClaimDecision(claim_id=row.id, officer_id=officer.id, reason=reason[:200], decided_at=now()))
                notices.claim_rejected(db, row)
            claim.status = ClaimStatus.REJECTED
            return claim, None
        operator = self.accounts.service_address()
        target, calldata = self.ledger.calldata(
            "RewardProgrammes",
            "attest",
            claim.programme_id,
            claimant.address,
            claim.units,
            keccak(text=f"claim:{claim.public_id}:{claim.evidence}"),
            CLAIM_ID_BASE + claim.id,
        )

        def mark(db: DbSession, op: Operation) -> None:
            row = db.get(Claim, claim.id, with_for_update=True)
            if row is None or row.status != ClaimStatus.PENDING:
                raise ApiError("CLAIM_NOT_PENDING")
            row.status = ClaimStatus.APPROVING
            row.decided_by = officer.id
            row.operation_id = op.id
            db.add(ClaimDecision(claim_id=row.id, officer_id=officer.id, reason=reason[:200], decided_at=now()))

        op = self.outbox.submit(
            officer,
            key,
            {"claim": public_id},
            kind=OperationKind.ATTEST,
            sender=operator,
            target=target,
            calldata=calldata,
            summary={"claim": claim.id},
            before_commit=mark,
        )
        with self.sessions() as db:
            latest = db.get(Claim, claim.id)
        return latest or claim, op


def on_attest(db: DbSession, op: Operation) -> None:
    """An attestation settled: the claim is granted, or failed."""
    claim = db.get(Claim, op.summary["claim"])
    if claim is None:
        return
    claim.status = ClaimStatus.GRANTED if op.status == OperationStatus.CONFIRMED else ClaimStatus.FAILED
