"""Rewrite the flow diagrams embedded in docs/*.md from the flow tables.

A page embeds a diagram between ``<!-- diagram: NAME -->`` and ``<!-- /diagram -->``; this script
replaces what lies between with a fresh Mermaid block. ``tests/test_flows.py`` fails when a page
holds a stale diagram.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from credflow import flows

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"(<!-- diagram: (\w+) -->\n).*?(<!-- /diagram -->)", re.S)


def refresh(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        return f"{match.group(1)}```mermaid\n{flows.diagram(match.group(2))}```\n{match.group(3)}"

    return BLOCK.sub(replace, text)


def main() -> int:
    changed = 0
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        fresh = refresh(text)
        if fresh != text:
            page.write_text(fresh, encoding="utf-8")
            changed += 1
            print(f"updated {page.relative_to(DOCS.parent)}")
    return 0 if changed >= 0 else 1


if __name__ == "__main__":
    sys.exit(main())
