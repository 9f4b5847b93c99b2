"""Sliders that work in a notebook and read in the built book (book: the chapters' *Try it*
cells; used by every chapter that explores a setting with sliders).

In a running notebook (Jupyter, Colab, Binder) :func:`sliders` is ``ipywidgets.interact``: move
a slider and the figure follows. A built page has no kernel behind it, so there a slider would
only show a frozen figure; when the book is built (``$QROBUST_BOOK_BUILD`` set, as ``make book``
does) :func:`sliders` instead draws the figure at a few chosen settings, with a note saying how to
get the live sliders.
"""

from __future__ import annotations

import os
import textwrap
from typing import Callable

from ..validation import CALLABLE, Anything, Instance, Sequence_, validate_params

#: The variable set while the book is built, when :func:`sliders` draws frames instead of widgets.
ENV_VAR = "QROBUST_BOOK_BUILD"
NOTE = (
    "[static page] the sliders need a running notebook; here the figure is drawn at {n} settings. "
    "Open the chapter in Colab or Binder (the rocket button above) to move them."
)


def building() -> bool:
    """Whether the book is being built (``$QROBUST_BOOK_BUILD`` set and not empty)."""
    return bool(os.environ.get(ENV_VAR, "").strip())


@validate_params(
    function=CALLABLE,
    frames=Sequence_(Instance(dict, "a dict of the function's arguments")),
    controls=Anything("ipywidgets.interact's controls: widgets, ranges or lists, by argument name"),
)
def sliders(function: Callable, frames, **controls):
    """``ipywidgets.interact(function, **controls)`` in a running notebook; while the book is built,
    ``function(**frame)`` for each of ``frames`` (each a dict of its arguments) after a note.

    >>> calls = []
    >>> record = lambda a, b: calls.append((a, b))
    >>> os.environ[ENV_VAR] = "1"
    >>> sliders(record, [{"a": 1, "b": 2}, {"a": 3, "b": 4}], a=(0, 5), b=(0, 5))  # doctest: +ELLIPSIS
    [static page] the sliders need a running notebook; here the figure is drawn at...
    >>> calls
    [(1, 2), (3, 4)]
    >>> del os.environ[ENV_VAR]
    """
    unknown = sorted({k for frame in frames for k in frame} - set(controls))
    if unknown:
        raise ValueError(f"frames name arguments that have no control: {unknown}; controls are {sorted(controls)}")
    if not building():
        import ipywidgets

        return ipywidgets.interact(function, **controls)
    print(textwrap.fill(NOTE.format(n=len(frames)), 78))
    for frame in frames:
        function(**frame)
    return None
