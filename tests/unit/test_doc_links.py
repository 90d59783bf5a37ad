"""Relative links in the repository's Markdown point at files inside it.

A link to ``../shared/seed`` works in the checkout it was written in and is dead on a fresh
clone, on GitHub and in the package's long description, so it fails here instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("samples/**/*.md")])

_CODE = re.compile(r"^(```|~~~).*?^\1[^\n]*$|`[^`\n]*`", re.MULTILINE | re.DOTALL)
_TARGETS = (
    re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"),  # [text](target)
    re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE),  # [ref]: target
    re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']"""),  # <a href>, <img src>
)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def broken_links(document: Path, root: Path) -> list[str]:
    """The relative link targets of ``document`` that name no file or folder under ``root``.

    Code blocks and spans are skipped: a ``[x](y)`` there is an example, not a link. A target
    with a scheme (``https:``, ``mailto:``) or only an anchor is not a path; ``/x`` is the
    repository's root, as GitHub reads it.
    """
    text = _CODE.sub("", document.read_text("utf-8"))
    broken = []
    for pattern in _TARGETS:
        for target in pattern.findall(text):
            path = re.split(r"[#?]", target, maxsplit=1)[0]
            if not path or _SCHEME.match(target):
                continue
            base = root if path.startswith("/") else document.parent
            resolved = (base / path.lstrip("/")).resolve()
            if not resolved.is_relative_to(root.resolve()) or not resolved.exists():
                broken.append(target)
    return broken


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_stay_inside_the_repository(document: Path) -> None:
    assert broken_links(document, ROOT) == []


def test_the_documents_checked_include_the_readme_and_docs() -> None:
    names = {str(path.relative_to(ROOT)) for path in DOCUMENTS}
    assert {"README.md", "docs/pipeline-yaml.md"} <= names


def test_a_link_outside_the_repository_or_to_nothing_is_broken(tmp_path: Path) -> None:
    # Given a repository with a docs folder and one existing file
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n")
    (tmp_path / "README.md").write_text(
        "See [the seed](../shared/seed) and [gone](docs/gone.md#usage),\n"
        "[the guide](docs/guide.md#top), [rooted](/docs/guide.md), [a section](#usage),\n"
        "[the web](https://example.com/x) and [mail](mailto:a@example.com).\n"
        '<img src="docs/missing.png">\n\n'
        "[ref]: ../outside.md\n\n"
        "```yaml\nexample: [a](../in-a-code-block)\n```\n"
        "and `[b](../in-a-code-span)`.\n"
    )
    # Then exactly the targets outside the repository or naming no file are broken
    assert sorted(broken_links(tmp_path / "README.md", tmp_path)) == [
        "../outside.md",
        "../shared/seed",
        "docs/gone.md#usage",
        "docs/missing.png",
    ]
