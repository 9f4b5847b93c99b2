"""Check a built HTML book: every internal link resolves (the file exists, and so does the
#anchor in it), every chapter built from a notebook has its Binder and Colab buttons, and no
page shows a stderr output (a warning or a stray message) unless its cell is tagged
``stderr-expected`` (a deliberate one), and no page carries build debris: a saved progress bar,
a loopback address (``127.0.0.1:PORT``, ``localhost:PORT``) or the building machine's own
folder.

Usage: ``python scripts/check_links.py _build/html`` (``make book`` runs it). Links with a
scheme (https:, mailto:, ...) are external and not checked here: the build runs offline.
Exit status 1 lists what is wrong.
"""

from __future__ import annotations

import re
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


LAUNCHERS = ("mybinder.org", "colab.research.google.com")


def missing_launch_buttons(root: Path) -> list[str]:
    """Chapters built from a notebook (``_sources/<page>.ipynb``) without a Binder or Colab link."""
    missing = []
    for source in (root / "_sources").rglob("*.ipynb"):
        page = root / source.relative_to(root / "_sources").with_suffix(".html")
        text = page.read_text(encoding="utf-8") if page.exists() else ""
        missing += [f"{page.relative_to(root)}: no {name} button" for name in LAUNCHERS if name not in text]
    return missing


STDERR_TAG = "stderr-expected"


class _Stderr(HTMLParser):
    """Collects the text of every stderr output block whose cell lacks the STDERR_TAG tag."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, set[str]]] = []
        self.found: list[str] = []
        self.depth_in_block: int | None = None

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        self.stack.append((tag, classes))
        if self.depth_in_block is None and "stderr" in classes and "output" in classes:
            if not any(f"tag_{STDERR_TAG}" in c for _, c in self.stack):
                self.depth_in_block = len(self.stack)
                self.found.append("")

    def handle_endtag(self, tag):
        while self.stack:
            if self.depth_in_block is not None and len(self.stack) == self.depth_in_block:
                self.depth_in_block = None
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self.depth_in_block is not None:
            self.found[-1] += data


def stray_stderr(root: Path) -> list[str]:
    """``"page: text"`` for every stderr output shown on a page without the deliberate tag."""
    problems = []
    for path in _pages(root):
        parser = _Stderr()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        problems += [
            f"{path.relative_to(root)}: stderr output: {' '.join(text.split())[:200]}" for text in parser.found
        ]
    return problems


#: A tqdm bar's counter and clock ("10/10 [00:04<00:00"), as text or in a saved widget's state.
_PROGRESS = re.compile(r"\d+/\d+(?:\s|\\u2007|\u2007|&#8199;)*\[\d+:\d+(?:&lt;|<)")
_LOOPBACK = re.compile(r"\b(?:127\.0\.0\.1|localhost):\d+")


def build_debris(root: Path, machine_folders: tuple[str, ...] = ()) -> list[str]:
    """``"page: what"`` for every page that carries a saved progress bar, a loopback address or
    one of ``machine_folders`` (the folders the book was built from)."""
    problems = []
    for path in _pages(root):
        html = path.read_text(encoding="utf-8", errors="replace")
        found = [m.group(0) for m in (_PROGRESS.search(html), _LOOPBACK.search(html)) if m]
        found += [folder for folder in machine_folders if folder in html]
        problems += [f"{path.relative_to(root)}: build debris: {what!r}" for what in found]
    return problems


_REMOTE_SCRIPT = re.compile(r"""<script[^>]*\bsrc=["'](https?:)?//[^"']+["']""")


def remote_scripts(root: Path) -> list[str]:
    """``"page: url"`` for every script a page loads from the internet: a book read offline
    (or built without a network) must show its mathematics and figures from its own files."""
    problems = []
    for path in _pages(root):
        html = path.read_text(encoding="utf-8", errors="replace")
        problems += [
            f"{path.relative_to(root)}: loads {m.group(0).split('src=')[1]} from the internet"
            for m in _REMOTE_SCRIPT.finditer(html)
        ]
    return problems


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html")
    if not root.is_dir():
        print(f"{root} is not a folder; build the book first", file=sys.stderr)
        return 2
    here = (str(Path(__file__).resolve().parents[1]), str(Path.cwd().resolve()))
    broken = (
        broken_links(root)
        + missing_launch_buttons(root)
        + stray_stderr(root)
        + build_debris(root, tuple(sorted(set(here))))
        + remote_scripts(root)
    )
    n_pages = len(_pages(root))
    if broken:
        print(f"{len(broken)} problems in {n_pages} pages:", *broken, sep="\n  ")
        return 1
    print(
        f"internal links: all resolve ({n_pages} pages); every notebook chapter has its "
        f"Binder and Colab buttons; no stray stderr output; no build debris; no script from the internet"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
