"""Refresh the committed screenshots in ``docs/screens/``: ``python -m tests.screens``.

The browser tests take a screenshot of every screen at 360 px and 1280 px. A normal
test run writes them to a temporary folder (a fresh clone stays clean after the
suite); this command runs the same tests with ``TAKASAGO_SCREENS_DIR`` pointed at
``docs/screens`` so the documentation shows the screens as they are now.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.browser_support import DOCS_SCREENS, SCREENS_ENV
from tests.conftest import REPO


def screenshot_tests() -> list[str]:
    """Every test file that takes screenshots (calls ``screen`` from browser_support)."""
    return sorted(
        str(path.relative_to(REPO))
        for path in (REPO / "tests").glob("test_*.py")
        if "screen(" in path.read_text(encoding="utf-8")
    )


def main() -> int:
    files = screenshot_tests()
    env = {**os.environ, SCREENS_ENV: str(DOCS_SCREENS)}
    print(f"refreshing {DOCS_SCREENS} from {len(files)} test files", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", "-q", *files, *sys.argv[1:]], cwd=REPO, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
