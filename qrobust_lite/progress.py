"""Progress bars for anything slower than a few seconds (book: every chapter's long cells;
*Introduction*, *Running the chapters*).

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
