"""Check every internal link of a built HTML book: target files exist, and #anchors exist in them.

Usage: ``python scripts/check_links.py _build/html`` (``make book`` runs it). Links with a
scheme (https:, mailto:, ...) are external and not checked here: the build runs offline.
Exit status 1 lists the broken links.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "link" and attrs.get("rel") in ("preconnect", "dns-prefetch")):
                self.links.append(attrs[key])


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def _pages(root: Path) -> list[Path]:
    """The book's pages (not the theme's template fragments under _static/)."""
    return [p for p in root.rglob("*.html") if "_static" not in p.relative_to(root).parts]


def broken_links(root: Path) -> list[str]:
    """``"page: link"`` for every internal link whose file or anchor is missing."""
    pages = {p.resolve(): parse(p) for p in _pages(root)}
    broken = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(root.resolve())}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{path.relative_to(root.resolve())}: {link} (no such anchor)")
    return broken


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html")
    if not root.is_dir():
        print(f"{root} is not a folder; build the book first", file=sys.stderr)
        return 2
    broken = broken_links(root)
    n_pages = len(_pages(root))
    if broken:
        print(f"{len(broken)} broken internal links in {n_pages} pages:", *broken, sep="\n  ")
        return 1
    print(f"internal links: all resolve ({n_pages} pages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
