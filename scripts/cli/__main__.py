"""``python -m scripts.cli``: what ``takasago up`` and the tests run as a child process."""

from scripts.cli.app import app

app()
