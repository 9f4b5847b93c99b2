"""Build the student edition: hand-out notebooks without solutions, and a book without them.

Usage (``make student`` runs it): ``python scripts/student_edition.py [--out student]``

Writes, under ``--out``:

- ``notebooks/``: every chapter notebook with the solution cells (tag ``solution``) and the
  ``solution-start`` / ``solution-end`` markers removed, outputs cleared, ready to hand out;
- ``src/``: the book's sources for the student book, in which solution cells are kept but
  tagged ``remove-cell`` (they still run, so later cells that use an exercise's function
  work, but nothing of them is shown), the markers are removed, checker outputs are hidden
  (they would say "Correct"), and the instructors' page is left out: every link to it
  becomes plain text naming it (a link to a page that is not built fails the build).

The student book itself is then built from ``src/`` by ``make student``. ``--no-execute``
writes sources that build without executing a notebook (seconds, not minutes): ``make test``
builds them that way, so a broken link between the editions fails the tests.
"""

from __future__ import annotations

import argparse
import re
import shutil
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


def handout(nb):
    """The notebook a student gets: no solution cells, no markers, no outputs."""
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if not (is_solution(c) or is_solution_marker(c))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="output folder")
    parser.add_argument(
        "--no-execute",
        action="store_true",
        help="sources whose book builds without executing the notebooks (a quick link check)",
    )
    args = parser.parse_args(argv)
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

    chapters = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    for name in chapters:
        path = ROOT / f"{name}.ipynb"
        if not path.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        nbformat.write(handout(nb), out / "notebooks" / path.name)
        nbformat.write(student_book_source(nb), src / f"{name}.ipynb")
    for page in INSTRUCTOR_PAGES:
        (src / f"{page}.md").unlink(missing_ok=True)
    for page in (src / "book").glob("*.md"):
        page.write_text(unlink_instructor_pages(page.read_text()))
    print(f"hand-out notebooks: {out / 'notebooks'}\nstudent book sources: {src}")


if __name__ == "__main__":
    main()
