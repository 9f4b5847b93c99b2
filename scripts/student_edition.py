"""Build the student edition: hand-out notebooks without solutions, and a book without them.

Usage: ``python scripts/student_edition.py [--out student]`` (``make student``), or
``python scripts/student_edition.py --branch student`` (``make publish-student``).

Writes, under ``--out``:

- ``notebooks/``: every chapter notebook with the solution cells (tag ``solution``) and the
  ``solution-start`` / ``solution-end`` markers removed, outputs cleared, and the book's MyST
  (exercise directives, ``{doc}`` links, ``{cite:p}`` citations) turned into plain Markdown, so
  that it reads the same in Jupyter, Colab and the book: ready to hand out;
- ``src/``: the book's sources for the student book, in which solution cells are kept but
  tagged ``remove-cell`` (they still run, so later cells that use an exercise's function
  work, but nothing of them is shown), the markers are removed, checker outputs are hidden
  (they would say "Correct"), and the instructors' page is left out: every link to it
  becomes plain text naming it (a link to a page that is not built fails the build).

The student book itself is then built from ``src/`` by ``make student``. ``--no-execute``
writes sources that build without executing a notebook (seconds, not minutes): ``make test``
builds them that way, so a broken link between the editions fails the tests.

``--branch student`` instead commits the hand-outs, made from the committed ``HEAD``, in place of
``book/``'s notebooks on a branch of their own (``book/instructors.md`` left out, the rest of the
repository as it is, so Binder builds it and the package is there): the branch the book's Binder
and Colab buttons open. Nothing in the working tree or the index changes; run it again after
changing the book, then push the branch. It refuses a branch it did not make.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR_PAGES = ("book/instructors",)
INSTRUCTOR_TITLE = "For instructors"


def unlink_instructor_pages(text: str) -> str:
    """MyST text with every ``{doc}`` link to an instructors' page turned into plain text:
    ``{doc}`instructors``` and ``{doc}`the page <instructors>``` both name the page, in italics,
    as part of the instructors' edition."""
    names = "|".join(re.escape(p.rsplit("/", 1)[-1]) for p in INSTRUCTOR_PAGES)
    link = re.compile(r"\{doc\}`(?:([^`<]*?)\s*<)?/?(?:book/)?(?:" + names + r")>?`")
    return link.sub(lambda m: f"*{(m.group(1) or INSTRUCTOR_TITLE).strip()}* (instructors' edition)", text)


def is_solution_marker(cell) -> bool:
    """The markdown cells that open and close a gated solution."""
    text = cell.source.lstrip()
    return cell.cell_type == "markdown" and (
        text.startswith(":::{solution-start}") or text.startswith(":::{solution-end}")
    )


def is_solution(cell) -> bool:
    return "solution" in cell.metadata.get("tags", [])


def is_check(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith("check(")


_EXERCISE = re.compile(
    r"^:::\{exercise\}[ \t]*(?P<title>[^\n]*)\n(?::label:[^\n]*\n)?(?P<body>.*?)^:::[ \t]*$", re.M | re.S
)
_DOC = re.compile(r"\{doc\}`(?:(?P<text>[^`<]*?)\s*<(?P<target>[^`>]+)>|(?P<bare>[^`]+))`")
_CITE = re.compile(r"\{cite:p\}`(?P<keys>[^`]+)`")


def page_titles(book: Path) -> dict[str, tuple[str, str]]:
    """``name -> (file name, title)`` for every page of ``book``: the title is its first ``#`` heading."""
    pages = {}
    for path in sorted(book.glob("*.md")) + sorted(book.glob("*.ipynb")):
        if path.suffix == ".ipynb":
            text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        else:
            text = path.read_text()
        heading = re.search(r"^# (.+)$", text, re.M)
        pages[path.stem] = (path.name, heading.group(1).strip() if heading else path.stem)
    return pages


def citations(bib: Path) -> dict[str, str]:
    """``key -> "Qi et al., 2025"`` for every entry of the bibliography, linked to arXiv where it has an eprint."""
    from pybtex.database import parse_file

    cited = {}
    for key, entry in parse_file(str(bib)).entries.items():
        people = [p.last_names[0] if p.last_names else str(p) for p in entry.persons.get("author", [])]
        who = people[0] if len(people) == 1 else " and ".join(people) if len(people) == 2 else f"{people[0]} et al."
        text = f"{who}, {entry.fields.get('year', 'n.d.')}"
        eprint = entry.fields.get("eprint")
        cited[key] = f"[{text}](https://arxiv.org/abs/{eprint})" if eprint else text
    return cited


def plain_markdown(text: str, pages: dict[str, tuple[str, str]], cited: dict[str, str]) -> str:
    """The book's MyST as Markdown that Jupyter and Colab show as the book does: an exercise
    directive becomes an ``### Exercise:`` heading over its text, a ``{doc}`` link a relative
    link to the page's file, a ``{cite:p}`` citation "(Author et al., year)"."""

    def exercise(m: re.Match) -> str:
        return f"### Exercise: {m['title'].strip()}\n\n{m['body'].strip()}"

    def doc(m: re.Match) -> str:
        name = (m["target"] or m["bare"]).strip().lstrip("/").removeprefix("book/")
        if name not in pages:
            raise ValueError(f"{{doc}} link to {name!r}: no such page in book/ (pages: {sorted(pages)})")
        file, title = pages[name]
        return f"[{(m['text'] or title).strip()}]({file})"

    def cite(m: re.Match) -> str:
        keys = [k.strip() for k in m["keys"].split(",")]
        unknown = [k for k in keys if k not in cited]
        if unknown:
            raise ValueError(f"{{cite:p}} of {unknown}: not in book/references.bib")
        return "(" + "; ".join(cited[k] for k in keys) + ")"

    return _CITE.sub(cite, _DOC.sub(doc, _EXERCISE.sub(exercise, unlink_instructor_pages(text))))


def handout(nb, pages: dict[str, tuple[str, str]], cited: dict[str, str]):
    """The notebook a student gets: no solution cells, no markers, no outputs, plain Markdown."""
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if not (is_solution(c) or is_solution_marker(c))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        else:
            cell.source = plain_markdown(cell.source, pages, cited)
    return nb


def student_book_source(nb):
    """The notebook the student book is built from: solutions run but are not shown."""
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if not is_solution_marker(c)]
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = unlink_instructor_pages(cell.source)
        tags = cell.metadata.setdefault("tags", [])
        if is_solution(cell):
            tags.append("remove-cell")
        elif is_check(cell):
            tags.append("remove-output")
    return nb


def chapters(toc: dict) -> list[str]:
    return [c["file"] for part in toc["parts"] for c in part["chapters"]]


MARK = "Student edition of "  # how a commit made by publish() begins: only those are replaced

STUDENT_README = """# qrobust-lite, student edition

This branch is generated from `main` ({head}) by `make publish-student`: the chapters in `book/`
are the hand-out notebooks, with the exercises and their checkers but without the solutions.
Do not edit it; change `main` and publish again. The course's own README follows.

"""


def _git(repo: Path, *args: str, stdin: bytes | None = None, env: dict | None = None) -> bytes:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, capture_output=True, env=env, check=False, timeout=120
    )
    if done.returncode:
        raise SystemExit(f"git {' '.join(args)}: {done.stderr.decode().strip()}")
    return done.stdout


def publish(repo: Path, branch: str) -> str:
    """Commit the hand-outs made from ``repo``'s ``HEAD`` to ``branch``; return the branch's commit.

    The tree is ``HEAD``'s with each chapter notebook replaced by its hand-out, the instructors'
    pages removed and a notice on the README. Built in a temporary index: the working tree, the
    index and the checked-out branch are not touched. A branch whose tip this function did not
    make is refused; an unchanged edition makes no commit."""
    if subprocess.run(["git", "check-ref-format", "--branch", branch], capture_output=True).returncode:
        raise SystemExit(f"--branch {branch!r} is not a valid branch name")
    current = _git(repo, "rev-parse", "--abbrev-ref", "HEAD").decode().strip()
    if branch == current:
        raise SystemExit(
            f"--branch {branch!r} is the checked-out branch; the student edition needs a branch of its own"
        )
    head = _git(repo, "rev-parse", "HEAD").decode().strip()
    tip = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if tip and not _git(repo, "log", "-1", "--format=%s", tip).decode().startswith(MARK):
        raise SystemExit(
            f"branch {branch!r} exists and its last commit was not made by this script; "
            "choose another --branch, or delete that branch if it is yours to delete"
        )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        archive = _git(repo, "archive", "--format=tar", head, "book", "_toc.yml", "README.md")
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(work / "head", filter="data")
        toc = yaml.safe_load((work / "head" / "_toc.yml").read_text())
        pages, cited = page_titles(work / "head" / "book"), citations(work / "head" / "book" / "references.bib")
        files = {
            f"{name}.ipynb": nbformat.writes(
                handout(nbformat.read(work / "head" / f"{name}.ipynb", as_version=4), pages, cited)
            )
            for name in chapters(toc)
            if (work / "head" / f"{name}.ipynb").exists()
        }
        files["README.md"] = STUDENT_README.format(head=head[:12]) + (work / "head" / "README.md").read_text()
        env = {**os.environ, "GIT_INDEX_FILE": str(work / "index")}
        _git(repo, "read-tree", head, env=env)
        for path, text in files.items():
            blob = _git(repo, "hash-object", "-w", "--stdin", stdin=text.encode()).decode().strip()
            _git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        for page in INSTRUCTOR_PAGES:
            _git(repo, "update-index", "--force-remove", f"{page}.md", env=env)
        tree = _git(repo, "write-tree", env=env).decode().strip()
    if tip and _git(repo, "rev-parse", f"{tip}^{{tree}}").decode().strip() == tree:
        print(f"branch {branch} is up to date with {head[:12]}")
        return tip
    # The maintainer's identity when git has one; a placeholder on a machine without (CI).
    configured = _git(repo, "config", "--default", "", "user.email").strip()
    identity = [] if configured else ["-c", "user.name=qrobust-lite", "-c", "user.email=student-edition@invalid"]
    commit = (
        _git(repo, *identity, "commit-tree", tree, *(["-p", tip] if tip else []), "-m", f"{MARK}{head[:12]}")
        .decode()
        .strip()
    )
    _git(repo, "update-ref", f"refs/heads/{branch}", commit, *([tip] if tip else []))
    print(
        f"branch {branch}: {commit[:12]}, the student edition of {head[:12]}; publish it with: git push origin {branch}"
    )
    return commit


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="output folder")
    parser.add_argument(
        "--no-execute",
        action="store_true",
        help="sources whose book builds without executing the notebooks (a quick link check)",
    )
    parser.add_argument("--branch", help="commit the hand-outs to this branch instead (the launch buttons' branch)")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the repository --branch commits to")
    args = parser.parse_args(argv)
    if args.branch is not None:
        publish(args.repo.resolve(), args.branch)
        return
    out = args.out.resolve()
    if out == ROOT or ROOT.is_relative_to(out):
        raise SystemExit(f"--out {out} would contain the repository; choose a folder inside it or elsewhere")
    for sub in ("notebooks", "src"):
        shutil.rmtree(out / sub, ignore_errors=True)  # only what this script wrote before
    (out / "notebooks").mkdir(parents=True)
    src = out / "src"
    shutil.copytree(ROOT / "book", src / "book", ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    if args.no_execute:
        config["execute"]["execute_notebooks"] = "off"
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in toc["parts"]:
        part["chapters"] = [c for c in part["chapters"] if c["file"] not in INSTRUCTOR_PAGES]
    (src / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))

    pages, cited = page_titles(ROOT / "book"), citations(ROOT / "book" / "references.bib")
    for name in chapters(toc):
        path = ROOT / f"{name}.ipynb"
        if not path.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        nbformat.write(handout(nb, pages, cited), out / "notebooks" / path.name)
        nbformat.write(student_book_source(nb), src / f"{name}.ipynb")
    for page in INSTRUCTOR_PAGES:
        (src / f"{page}.md").unlink(missing_ok=True)
    for page in (src / "book").glob("*.md"):
        page.write_text(unlink_instructor_pages(page.read_text()))
    print(f"hand-out notebooks: {out / 'notebooks'}\nstudent book sources: {src}")


if __name__ == "__main__":
    main()
