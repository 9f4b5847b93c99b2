"""Grading learners' notebooks (book: *For instructors*; command: ``qrobust-lite grade``)."""

from __future__ import annotations

import re
from pathlib import Path


_CHECK_CALL = re.compile(r"""^\s*check\(\s*["']([^"']+)["']""")


def grade_notebook(path: str | Path, timeout: int = 600, kernel_name: str = "python3") -> dict:
    """Run a learner's notebook top to bottom and collect what every ``check(...)`` cell said.

    Returns ``{"exercises": {exercise: passed}, "error": message or None}``. A notebook that
    fails part-way keeps the results of the checks before the failure; checks after it are
    missing from ``exercises``. The notebook file is not changed.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path {str(path)!r} is not a notebook file")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(path.parent)}})
    error = None
    try:
        client.execute()
    except CellExecutionError as err:
        lines = [line for line in str(err).splitlines() if line.strip()]
        error = lines[-1] if lines else type(err).__name__
    results: dict[str, bool] = {}
    for cell in nb.cells:
        match = _CHECK_CALL.match(cell.source) if cell.cell_type == "code" else None
        if not match:
            continue
        texts = [out.get("data", {}).get("text/plain", "") for out in cell.get("outputs", [])
                 if out.get("output_type") == "execute_result"]
        if texts:
            results[match.group(1)] = texts[-1].startswith(f"[{match.group(1)}] Correct")
    return {"exercises": results, "error": error}
