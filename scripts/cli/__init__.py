"""The ``takasago`` command line: one package, one root (:mod:`scripts.cli.app`).

``takasago = "scripts.cli:app"`` (pyproject) and ``python -m scripts.cli`` both run
:data:`app`. Shared options, exit codes and error messages: :mod:`scripts.cli.common`.
"""

from scripts.cli.app import app

__all__ = ["app"]
