"""The documentation's screenshots: each picture of ``tests/browser/screenshots.py`` is taken by
the browser test it names, committed in docs/images at the right size, and shown in the docs."""

from __future__ import annotations

import re

import pytest
from tests.browser.harness import VIEWPORT, png_size
from tests.browser.screenshots import DOCS_IMAGES, HERE, SCENES

DOCS = DOCS_IMAGES.parent
MAX_BYTES = 300 * 1024  # commit-sized


@pytest.mark.parametrize("name", list(SCENES))
def test_the_named_test_takes_the_picture(name: str) -> None:
    module, function = SCENES[name].split("::")
    source = (HERE / module).read_text("utf-8")
    body = source.split(f"def {function}(", 1)[1].split("\ndef ", 1)[0]
    assert f'screenshot(page, "{name}")' in body


@pytest.mark.parametrize("name", list(SCENES))
def test_the_docs_embed_the_committed_picture(name: str) -> None:
    picture = DOCS_IMAGES / f"{name}.png"
    assert picture.exists(), f"run `python -m tests.browser.screenshots` to make {picture}"
    assert png_size(picture) == (VIEWPORT["width"], VIEWPORT["height"])
    assert picture.stat().st_size < MAX_BYTES
    link = re.compile(r"!\[[^\]]+\]\(images/" + re.escape(name) + r"\.png\)")
    pages = [page.name for page in DOCS.glob("*.md") if link.search(page.read_text("utf-8"))]
    assert pages, f"no page of docs/ shows images/{name}.png"
