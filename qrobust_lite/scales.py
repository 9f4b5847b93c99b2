"""How big a chapter's run is: ``"smoke"``, ``"default"`` or ``"full"`` (book: *Introduction*,
section *Running the chapters*).

Every chapter starts with ``SCALE = scales.chapter_scale()``, which is ``"default"`` unless the
environment variable ``QROBUST_SCALE`` says otherwise; write ``SCALE = "full"`` in the notebook
to choose by hand.

- ``"smoke"``: a few seconds per chapter, tiny data and two seeds. It proves that a chapter
  runs end to end (the learner's-machine test uses it); its numbers mean nothing.
- ``"default"``: the size the book is built at, three minutes or less on a laptop CPU.
- ``"full"``: the papers' sizes where the data allow; minutes to hours.

What each scale means for a chapter lives in that chapter's module, in a table named
``SCALES`` keyed by these names.

>>> import os
>>> os.environ.pop(ENV_VAR, None) and None
>>> chapter_scale()
'default'
"""

from __future__ import annotations

import os

SCALES = ("smoke", "default", "full")
ENV_VAR = "QROBUST_SCALE"


def check_scale(scale: str) -> str:
    """Return ``scale`` if it is one of :data:`SCALES`, else raise a ``ValueError`` naming it."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)}, got {scale!r}")
    return scale


def chapter_scale(default: str = "default") -> str:
    """The scale a chapter runs at: ``$QROBUST_SCALE`` when set and not empty, else ``default``."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value and value not in SCALES:
        raise ValueError(f"${ENV_VAR} must be one of {list(SCALES)}, got {value!r}")
    return value or check_scale(default)
