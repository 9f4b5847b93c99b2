"""Binder and Colab buttons only on pages made from a notebook file.

sphinx-book-theme adds launch buttons to every page that has a kernel, MyST Markdown pages
included (``paper_scale.md``, ``instructors.md``). Colab cannot open a ``.md`` file and the
student branch the buttons point at has no instructors' page, so this extension, run after the
theme's own handler, takes the buttons off every page whose source is not an ``.ipynb``.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

LAUNCH_GROUP = "launch-buttons"  # the label sphinx-book-theme gives its group of launch buttons


def drop_launch_buttons(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    if context.get("page_source_suffix") == ".ipynb" or "header_buttons" not in context:
        return
    context["header_buttons"] = [b for b in context["header_buttons"] if b.get("label") != LAUNCH_GROUP]


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("html-page-context", drop_launch_buttons, priority=502)  # the theme adds them at 501
    return {"parallel_read_safe": True, "parallel_write_safe": True}
