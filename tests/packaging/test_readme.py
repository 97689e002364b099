"""The README links only to files a user has (a clone of this repository)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_relative_link_and_named_doc_in_the_readme_exists() -> None:
    text = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)", text)
    targets += re.findall(r"`((?:\.\./|docs/)[^`\s]+\.md)`", text)
    relative = [t for t in targets if "://" not in t]
    assert relative, "the README links to the architecture document at least"
    for target in relative:
        path = (ROOT / target).resolve()
        assert path.is_relative_to(ROOT), f"{target} is outside the repository"
        assert path.exists(), f"{target} does not exist"
