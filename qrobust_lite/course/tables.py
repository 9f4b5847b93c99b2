"""Tables and text that fit the page (book: every chapter that prints a table, a long line or
a verdict).

A table is a :class:`Table`: Jupyter, Colab and the built book show it as a Markdown table (the
book renders it as HTML, which wraps and scrolls on a phone); printed, in a terminal or the CLI,
it is fixed-width text. Long lines go through :func:`wrap`, so that no printed line is wider than
the book's code column, :data:`WIDTH` characters at 1280 px (``make book`` checks every page).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from ..validation import TEXT, Anything, Int, Sequence_, validate_params

#: A cell that reads as a number: "0.891", "+25%", "12.2x", "0.757 ± 0.011", "4,397", "-".
_NUMBER = re.compile(r"^[+-]?[\d.,]+(?:\s*±\s*[\d.,]+)?\s*[x%]?$|^-?$")


def _numeric(column: tuple[str, ...]) -> bool:
    """Whether every cell of a column reads as a number (such a column is aligned right)."""
    return all(_NUMBER.match(cell.strip()) for cell in column)


#: Characters of a printed line that fit the book's code column at 1280 px (14 px monospace).
WIDTH = 78


@dataclass(frozen=True)
class Table:
    """``header``: the column names; ``rows``: one tuple of cell texts per row, as many as the header."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""

    def _right(self) -> list[bool]:
        """For each column, whether it is aligned right (it holds numbers only)."""
        return [bool(self.rows) and _numeric(tuple(r[i] for r in self.rows)) for i in range(len(self.header))]

    def _repr_markdown_(self) -> str:
        def line(cells) -> str:  # "0.891 ± 0.011" kept on one line: no-break spaces around ±
            return "| " + " | ".join(c.replace("|", "\\|").replace(" ± ", "\u00a0±\u00a0") for c in cells) + " |"

        rule = "|" + "|".join("---:" if right else ":---" for right in self._right()) + "|"
        body = "\n".join([line(self.header), rule, *map(line, self.rows)])
        return f"{self.caption}\n\n{body}" if self.caption else body

    def __str__(self) -> str:
        widths = [max(len(r[i]) for r in (self.header, *self.rows)) for i in range(len(self.header))]
        numeric = self._right()

        def line(cells) -> str:
            return "  ".join(c.rjust(w) if right else c.ljust(w) for c, w, right in zip(cells, widths, numeric))

        return "\n".join(([self.caption] if self.caption else []) + [line(self.header), *map(line, self.rows)])


@validate_params(
    header=Sequence_(TEXT, min_len=1),
    rows=Sequence_(Sequence_(Anything("a cell: any value, shown with str()")), min_len=0),
    caption=TEXT,
)
def table(header, rows, caption: str = "") -> Table:
    """A :class:`Table` of ``rows`` (each as many cells as ``header``; a cell is shown with
    ``str()``, so format numbers first) under ``caption``. Columns of numbers are aligned
    right, the others left.

    >>> t = table(["method", "accuracy"], [["one-hot", "0.891 ± 0.011"], ["smoothing", "0.894 ± 0.014"]])
    >>> print(t)
    method          accuracy
    one-hot    0.891 ± 0.011
    smoothing  0.894 ± 0.014
    >>> print(t._repr_markdown_().replace("\u00a0", " "))
    | method | accuracy |
    |:---|---:|
    | one-hot | 0.891 ± 0.011 |
    | smoothing | 0.894 ± 0.014 |
    """
    header = tuple(header)
    cells = tuple(tuple(str(c) for c in row) for row in rows)
    for i, row in enumerate(cells):
        if len(row) != len(header):
            raise ValueError(f"rows[{i}] has {len(row)} cells; the header has {len(header)} columns: {header}")
    return Table(header, cells, caption)


@validate_params(text=TEXT, bullet=TEXT, width=Int(20, 1000))
def wrap(text: str, bullet: str = "", width: int = WIDTH) -> str:
    """``text`` in lines of at most ``width`` characters, the first starting with ``bullet`` and
    the others indented under it.

    >>> print(wrap("not more robust than one-hot: mean noisy accuracy 0.481 +- 0.132 against 0.657 +- 0.020",
    ...            bullet="  - ", width=60))
      - not more robust than one-hot: mean noisy accuracy 0.481
        +- 0.132 against 0.657 +- 0.020
    """
    return textwrap.fill(
        text, width, initial_indent=bullet, subsequent_indent=" " * len(bullet), break_on_hyphens=False
    )
