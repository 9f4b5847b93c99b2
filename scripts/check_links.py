"""Check a built HTML book: every internal link resolves (the file exists, and so does the
#anchor in it), every chapter built from a notebook has its Binder and Colab buttons (opening
the student branch) and no Markdown page has one, no page shows a stderr output (a warning or a
stray message) unless its cell is tagged ``stderr-expected`` (a deliberate one), no page carries
build debris (a saved progress bar, a loopback address such as ``127.0.0.1:PORT``, or the
building machine's own folder), no output line is wider than the code column and every figure
has alt text.

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

from qrobust_lite.course.tables import WIDTH


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
_LAUNCH_LINK = re.compile(r"""href=["'](https://(?:mybinder\.org|colab\.research\.google\.com)/[^"']+)["']""")


def launch_branch() -> str:
    """The branch the Binder and Colab buttons open (``repository.branch`` of ``_config.yml``)."""
    import yaml

    return yaml.safe_load((Path(__file__).resolve().parents[1] / "_config.yml").read_text())["repository"]["branch"]


def launch_button_problems(root: Path, branch: str) -> list[str]:
    """Chapters built from a notebook (``_sources/<page>.ipynb``) without a Binder or Colab link,
    links that open another branch than ``branch`` or a file that is not the page's ``.ipynb``,
    and Markdown pages that carry launch buttons (Colab cannot open a ``.md`` file)."""
    problems = []
    sources = root / "_sources"
    # A MyST Markdown notebook's source is kept as .md (or .md.txt), beside an .ipynb the theme writes.
    markdown = {
        s.relative_to(sources).as_posix().removesuffix(".txt").removesuffix(".md") for s in sources.rglob("*.md*")
    }
    notebooks = {s.relative_to(sources).with_suffix("").as_posix() for s in sources.rglob("*.ipynb")}
    for page in sorted(notebooks | markdown):
        path = root / f"{page}.html"
        if not path.exists():
            continue
        html = path.read_text(encoding="utf-8")
        links = _LAUNCH_LINK.findall(html)
        name = path.relative_to(root)
        if page in markdown:
            problems += [f"{name}: a Markdown page with a launch button ({link})" for link in links]
            continue
        problems += [f"{name}: no {host} button" for host in LAUNCHERS if not any(host in link for link in links)]
        binder, colab = f"/{branch}?urlpath=", f"/blob/{branch}/"
        wanted = f"{page}.ipynb"
        problems += [
            f"{name}: {link} does not open {wanted} on branch {branch!r}"
            for link in links
            if not ((binder in link or colab in link) and link.endswith(wanted))
        ]
    return problems


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


#: Where a cell's output ends at the latest: the next cell, the end of its section or of the article.
_OUTPUT_END = re.compile(r'<div class="cell |</section>|</article>|</main>')


def _outputs(html: str) -> list[str]:
    """The HTML of every cell's output on a page."""
    return [_OUTPUT_END.split(chunk, 1)[0] for chunk in html.split('<div class="cell_output')[1:]]


def _output_blocks(html: str) -> list[str]:
    """The text of every ``<pre>`` in a cell's output, tags stripped and entities decoded."""
    from html import unescape

    blocks = []
    for output in _outputs(html):
        blocks += [unescape(re.sub(r"<[^>]+>", "", pre)) for pre in re.findall(r"<pre[^>]*>(.*?)</pre>", output, re.S)]
    return blocks


def wide_outputs(root: Path, width: int) -> list[str]:
    """``"page: N characters: line"`` for every output line wider than ``width`` characters: at
    1280 px the code column holds 78, and a wider line is cut off at the page's edge."""
    problems = []
    for path in _pages(root):
        for block in _output_blocks(path.read_text(encoding="utf-8", errors="replace")):
            problems += [
                f"{path.relative_to(root)}: {len(line)} characters: {line[:60]}..."
                for line in block.splitlines()
                if len(line) > width
            ]
    return problems


_IMG = re.compile(r"<img\b[^>]*>")


def figures_without_alt(root: Path) -> list[str]:
    """``"page: file"`` for every image in a cell's output whose alt text is missing or is only its
    file name (myst-nb's default, a hash): set ``mystnb: image: alt:`` in the cell's metadata."""
    problems = []
    for path in _pages(root):
        html = path.read_text(encoding="utf-8", errors="replace")
        for output in _outputs(html):
            for img in _IMG.findall(output):
                src = (re.search(r'src="([^"]*)"', img) or [None, ""])[1]
                alt = (re.search(r'alt="([^"]*)"', img) or [None, ""])[1]
                if not alt.strip() or alt in src:
                    problems.append(f"{path.relative_to(root)}: figure {src.rsplit('/', 1)[-1]} has no alt text")
    return problems


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html")
    if not root.is_dir():
        print(f"{root} is not a folder; build the book first", file=sys.stderr)
        return 2
    here = (str(Path(__file__).resolve().parents[1]), str(Path.cwd().resolve()))
    broken = (
        broken_links(root)
        + launch_button_problems(root, launch_branch())
        + stray_stderr(root)
        + build_debris(root, tuple(sorted(set(here))))
        + remote_scripts(root)
        + wide_outputs(root, WIDTH)
        + figures_without_alt(root)
    )
    n_pages = len(_pages(root))
    if broken:
        print(f"{len(broken)} problems in {n_pages} pages:", *broken, sep="\n  ")
        return 1
    print(
        f"internal links: all resolve ({n_pages} pages); every notebook chapter has its Binder and "
        f"Colab buttons to branch {launch_branch()!r} and no Markdown page has one; no stray stderr "
        f"output; no build debris; no script from the internet; no output line over {WIDTH} "
        "characters; every figure has alt text"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
