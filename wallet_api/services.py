"""The wiring: every part of the service built once per process from the settings, and nothing else.

Each domain part receives only the collaborators it uses (a session factory, the ledger,
the outbox, the settings, another domain part), so none of them imports this module;
routes reach them through :class:`Services` (``deps.ServicesDep``), the CLI through
:meth:`Services.build`. Which hook runs when an operation of a kind settles is written
here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api import accounts, claims, help, notices, payments, storage
from wallet_api.accounts import Accounts
from wallet_api.auth import Authenticator
from wallet_api.charges import Charges
from wallet_api.claims import Claims
from wallet_api.counter import Counter
from wallet_api.db.engine import make_engine, make_sessions, migrate
from wallet_api.expiry import Expiry
from wallet_api.help import Help
from wallet_api.help_coordination import Coordination
from wallet_api.help_safety import Safety
from wallet_api.keyring import Keyring, load_keyring
from wallet_api.ledger import Ledger
from wallet_api.mailer import Mailer
from wallet_api.notices import Notices, then
from wallet_api.notifier import Notifier, announce_commits
from wallet_api.outbox import Outbox
from wallet_api.payments import Payments
from wallet_api.pipeline import Pipeline
from wallet_api.proxies import Proxies
from wallet_api.reconcile import Reconciler
from wallet_api.recovery import Recoveries
from wallet_api.settings import WalletSettings
from wallet_api.statuses import OperationKind
from wallet_api.thanks import Thanks
from wallet_api.watch_gateway import WatchGateway


@dataclass
class Services:
    settings: WalletSettings
    engine: Engine
    sessions: sessionmaker[DbSession]
    keyring: Keyring
    ledger: Ledger
    auth: Authenticator
    pipeline: Pipeline
    notifier: Notifier
    outbox: Outbox
    accounts: Accounts
    payments: Payments
    charges: Charges
    claims: Claims
    thanks: Thanks
    help: Help
    coordination: Coordination
    safety: Safety
    watch: WatchGateway
    notices: Notices
    mailer: Mailer
    counter: Counter
    recoveries: Recoveries
    proxies: Proxies
    expiry: Expiry
    reconciler: Reconciler

    @classmethod
    def build(cls, settings: WalletSettings, create_secrets: bool = False, run_migrations: bool = True) -> Services:
        storage.prepare(settings)  # private files (umask 0077), tightened modes, KEK placement (issue 15)
        if run_migrations:
            migrate(settings.database)
        keyring = load_keyring(settings, create=create_secrets)
        engine = make_engine(settings.database)
        sessions = make_sessions(engine)
        storage.check_kek(sessions, keyring)  # refuses a KEK the database was not sealed under
        ledger = Ledger(settings.rpc_url, settings.deployments_dir)
        notifier = Notifier()
        announce_commits(sessions, notifier)
        pipeline = Pipeline(sessions, ledger, keyring)
        outbox = Outbox(sessions, ledger, pipeline, settings.confirm_wait_seconds)
        account_part = Accounts(sessions, keyring, ledger, outbox)
        payment_part = Payments(sessions, settings, ledger, outbox)
        # each domain hook, then its notices (issue 20), in the same settling transaction
        outbox.when_settled(OperationKind.REGISTER, then(accounts.on_register, notices.on_register))
        outbox.when_settled(OperationKind.ATTEST, then(claims.on_attest, notices.on_attest))
        outbox.when_settled(
            OperationKind.PAY, then(payments.on_pay, notices.on_pay), inspector=payment_part.inspect_payment
        )
        outbox.when_settled(OperationKind.THANK, notices.on_thank)
        outbox.when_settled(OperationKind.REFUND, payments.on_refund)
        help_part = Help(
            sessions,
            ledger,
            outbox,
            lambda person, reader: str(
                account_part.personal_record(person, reader, "困りごと：マッチングした相手の氏名").get("name", "")
            ),
            account_part.service_address,
            settings.help_offers_per_day,
        )
        outbox.when_settled(OperationKind.HELP_POST, help.on_post, inspector=help_part.inspect_post)
        outbox.when_settled(OperationKind.HELP_CHOOSE, then(help.on_choose, notices.on_help_choose))
        outbox.when_settled(
            OperationKind.HELP_COMPLETE,
            then(help.completion_hook(settings.help_bonus_programme), notices.on_help_complete),
        )
        outbox.when_settled(OperationKind.HELP_WITHDRAW, help.on_withdraw)
        outbox.when_settled(OperationKind.HELP_CANCEL, help.on_cancel)
        outbox.when_settled(OperationKind.HELP_STEP_BACK, help.on_step_back, inspector=help_part.inspect_step_back)
        outbox.when_settled(OperationKind.HELP_DISPUTE, help.on_dispute)
        outbox.when_settled(OperationKind.HELP_EXPIRE, help.on_expire)
        outbox.when_settled(OperationKind.HELP_RESOLVE, help.on_resolve)
        outbox.when_settled(OperationKind.HELP_REMOVE, help.on_remove)
        notice_part = Notices(sessions, keyring, ledger)
        charge_part = Charges(sessions, settings, ledger, outbox, payment_part)
        counter_part = Counter(sessions, account_part, charge_part, ledger)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            keyring=keyring,
            ledger=ledger,
            auth=Authenticator(settings, keyring.token_secret),
            pipeline=pipeline,
            notifier=notifier,
            outbox=outbox,
            accounts=account_part,
            payments=payment_part,
            charges=charge_part,
            claims=Claims(sessions, ledger, outbox, account_part),
            thanks=Thanks(ledger, outbox, account_part),
            help=help_part,
            coordination=Coordination(sessions, settings),
            safety=Safety(sessions),
            watch=WatchGateway(settings.watch_url, settings.watch_token_file),
            notices=notice_part,
            mailer=Mailer(sessions, settings, notice_part),
            counter=counter_part,
            recoveries=Recoveries(sessions, keyring, ledger, counter_part),
            proxies=Proxies(sessions, account_part),
            expiry=Expiry(sessions, ledger, outbox, notice_part, account_part.service_address),  # issue 20
            reconciler=Reconciler(sessions, ledger),  # registry status changes followed (issue 20)
        )

    def close(self) -> None:
        self.expiry.stop()
        self.reconciler.stop()
        self.notices.stop()
        self.mailer.stop()
        self.pipeline.stop()
        self.engine.dispose()
