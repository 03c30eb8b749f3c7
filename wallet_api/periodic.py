"""A job the wallet service runs every few seconds on its own thread (the chain followers, the expiry job).

One mechanism for all of them: wait ``interval`` (stopping at once when asked), run one pass,
and outlive a bad pass — a node that is away is a warning and the next pass tries again; a
ledger refusal is a warning with its code; anything else is logged with its traceback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from wallet_api.errors import ApiError


class Periodic:
    def __init__(self, name: str, step: Callable[[], object], log: logging.Logger) -> None:
        self.name = name
        self.step = step
        self.log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval: float) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.step()
                except (ConnectionError, OSError, TimeoutError) as exc:
                    self.log.warning("%s: node unreachable (%s); retrying", self.name, type(exc).__name__)
                except ApiError as exc:  # the ledger refused (e.g. paused): tried again next pass
                    self.log.warning("%s: refused: %s %s", self.name, exc.code, exc.detail)
                except Exception:  # noqa: BLE001 - the job must outlive one bad pass
                    self.log.exception("%s: the pass failed", self.name)

        self._thread = threading.Thread(target=loop, name=f"wallet-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
