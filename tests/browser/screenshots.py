"""``python -m tests.browser.screenshots``: retake the documentation's pictures of the example
portal (``docs/images/*.png``, 1000x700).

The pictures are taken by the browser tests themselves, at the moment their person reaches the
page (``screenshot(page, "login")``); on an ordinary run they go to a temporary folder and are
only checked. This module runs those tests with ``CREDFLOW_SCREENSHOTS`` pointing at
``docs/images`` (or at the folder given as the first argument). Rerun it and commit the pictures
when a page changes on purpose.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from tests.browser.harness import SCREENSHOTS_ENV

HERE = Path(__file__).resolve().parent
DOCS_IMAGES = HERE.parents[1] / "docs" / "images"

#: picture name -> the browser test that takes it
SCENES = {
    "login": "test_browser_sign_in.py::test_login_page_in_french_then_english",
    "checklist": "test_browser_account.py::test_checklist_updates_as_one_types",
    "question": "test_browser_sign_in.py::test_first_login_new_password_then_security_question",
    "recovery": "test_browser_recovery.py::test_forgot_password_by_security_question",
    "totp": "test_browser_sign_in.py::test_totp_enrolment_then_login_with_a_code",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]).resolve() if args else DOCS_IMAGES
    os.environ[SCREENSHOTS_ENV] = str(folder)
    tests = sorted({str(HERE / test) for test in SCENES.values()})
    status = pytest.main(["-q", "-p", "no:cacheprovider", *tests])
    for name in SCENES:
        path = folder / f"{name}.png"
        if path.exists():
            print(f"{path} ({path.stat().st_size // 1024} KiB)")
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
