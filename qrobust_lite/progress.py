"""Progress bars for anything slower than a few seconds, and times printed with the load they
were measured under (book: every chapter's long cells; *Introduction*, *Running the chapters*).

One rule for every bar the package shows: tqdm's (``tqdm.auto``: a widget in Jupyter, text
in a terminal), on unless the caller says ``enabled=False`` or the environment variable
``TQDM_DISABLE`` (tqdm's own switch) is set. ``make book`` sets it, so that the built pages
carry no frozen bars; a learner running a notebook sees them live.

>>> import os
>>> os.environ["TQDM_DISABLE"] = "1"
>>> list(bar(range(3)))
[0, 1, 2]
>>> del os.environ["TQDM_DISABLE"]
"""

from __future__ import annotations

import os
import time
from typing import Iterable

from tqdm.auto import tqdm

from .validation import Anything, Bool, validate_params


@validate_params(
    iterable=Anything("anything tqdm can iterate"), enabled=Bool(), options=Anything("tqdm's keyword arguments")
)
def bar(iterable: Iterable, enabled: bool = True, **options) -> Iterable:
    """``iterable`` behind a tqdm bar (``options`` go to tqdm: ``desc``, ``total``, ``leave``),
    or as it is when ``enabled`` is false or ``$TQDM_DISABLE`` is set."""
    return tqdm(iterable, disable=not enabled or bool(os.environ.get("TQDM_DISABLE")), **options)


class Stopwatch:
    """Seconds since it was made; printed, with the machine's load, since a time measured while
    other programs share the cores is longer than a quiet machine's (a learner comparing a printed
    time with the instructors' table needs both).

    >>> clock = Stopwatch()
    >>> clock.seconds >= 0
    True
    >>> str(clock)  # doctest: +ELLIPSIS
    '0.00 s (load ... on ... cores)'
    """

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def __str__(self) -> str:
        seconds = self.seconds
        shown = f"{seconds:.{2 if seconds < 1 else 1 if seconds < 10 else 0}f} s"
        try:
            load = f"load {os.getloadavg()[0]:.1f}"  # processes running or waiting, over the last minute
        except OSError:  # no load average on this system
            return shown
        return f"{shown} ({load} on {os.cpu_count()} cores)"
