"""Runs one learner's notebook, then the grader's call step on each answer (book: *For
instructors*, section *Grading*). :func:`~qrobust_lite.exercises.grading.grade_notebook` starts
it as a script, ``python notebook_runner.py FOLDER RESULT_FD``, in the sandbox where Linux allows
it (:mod:`~qrobust_lite.exercises.sandbox`); it imports only the standard library and nbclient,
not the package (seconds per notebook).

In a fresh kernel it runs every code cell of ``FOLDER/submission.ipynb``, then one cell per
exercise that calls the answer on the cases in ``FOLDER/cases``
(:func:`~qrobust_lite.exercises.cases.answer`), and writes to the file descriptor ``RESULT_FD``
one JSON object: ``{"nonce",
"status", "reason", "timed_out", "exercises": {exercise: {"state", ...}}}``, a state being
``"answered"`` (with ``"text"``, what the call step wrote), ``"timeout"``, ``"died"`` (the kernel
died in that call) or ``"lost"`` (with ``"why"``). Everything in it is the learner's side's
report: the grader checks what it can, and judges the answers itself.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

_CASES = Path(__file__).with_name("cases.py")
_TIMEOUT = "CellTimeout"
_CALL = """
def __qrobust_answer():
    import importlib.util
    spec = importlib.util.spec_from_file_location("qrobust_lite_grader_cases", {module!r})
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.answer(globals(), {name!r}, {function!r}, {cases!r}, {out!r})
__qrobust_answer()
"""

# Seeds for random, NumPy and torch; torch is seeded when the notebook imports it (importing it
# here would add seconds and 400 MB to every notebook that never uses it).
_SEED = """
import importlib.abc, importlib.util, random, sys
import numpy
random.seed(0)
numpy.random.seed(0)


class __QrobustSeedTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "torch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torch")
        run = spec.loader.exec_module
        def run_then_seed(module):
            run(module)
            module.manual_seed(0)
        spec.loader.exec_module = run_then_seed
        return spec


sys.meta_path.insert(0, __QrobustSeedTorch())
"""


def run(folder: Path, result_fd: int) -> None:
    """Run the submission in ``folder`` and the call steps, and write the result to ``result_fd``
    (see the module's docstring)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    request = json.loads((folder / "request.json").read_text())
    nonce, work = request["nonce"], folder / "work"
    answers = work / ".answers"
    answers.mkdir()
    try:
        nb = nbformat.reads((folder / "submission.ipynb").read_text(), as_version=4)
        cells = [c for c in nb.cells if c.cell_type == "code"]
    except Exception as err:  # any malformed file is one reason
        _send(
            result_fd,
            {"nonce": nonce, "status": "not a notebook", "reason": f"the file is not a Jupyter notebook ({err})"},
        )
        return
    for cell in cells:
        cell.outputs, cell.execution_count, cell.metadata = [], None, {}
    calls = {}
    for exercise, (name, function) in request["exercises"].items():
        source = _CALL.format(
            module=str(_CASES),
            name=name,
            function=function,
            cases=str(folder / "cases" / f"{exercise}.json"),
            out=str(answers / f"{exercise}.json"),
        )
        calls[exercise] = len(cells) + 1  # its index once the seed cell comes first
        cells.append(nbformat.v4.new_code_cell(source, metadata={"qrobust-call-step": True}))
    nb.cells = [nbformat.v4.new_code_cell(_SEED)] + cells
    first_call = min(calls.values(), default=len(nb.cells))
    timed_out, started = set(), []

    def executed(cell, cell_index, execute_reply) -> None:
        if execute_reply["content"].get("ename") == _TIMEOUT:  # nbclient's own timeout, never the learner's
            timed_out.add(cell_index)

    limit, check_limit = request["cell_timeout"], request["check_timeout"]
    client = NotebookClient(
        nb,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        timeout_func=lambda cell: check_limit if cell.metadata.get("qrobust-call-step") else limit,
        skip_cells_with_tag="qrobust-grader-runs-every-cell",
        error_on_timeout={"ename": _TIMEOUT, "traceback": [], "evalue": "the cell ran past its time limit"},
        on_cell_start=lambda cell, cell_index: started.append(cell_index),
        on_cell_executed=executed,
        resources={"metadata": {"path": str(work)}},
    )
    status, reason, died = "graded", "", None
    try:
        client.execute()
    except DeadKernelError:
        died = started[-1] if started else 0
        if died < first_call:
            status = "kernel died"
            reason = "the notebook's kernel died (the code ended its process, or ran out of memory)"
    except Exception as err:  # a kernel that cannot start, say
        status, reason = "kernel died", f"the notebook could not be run to the end: {type(err).__name__}: {err}"
    learner = range(1, first_call)
    errors = [
        o
        for i in learner
        if i not in timed_out
        for o in nb.cells[i].get("outputs", [])
        if o.get("output_type") == "error"
    ]
    if errors and status == "graded":
        first = errors[0]
        reason = f"{len(errors)} cell(s) raised an error; the first: {first.get('ename')}: {first.get('evalue')}"
    late = any(i in timed_out for i in learner)
    if late and status == "graded":
        reason = f"a cell ran past its time limit of {limit:g} s and was interrupted; " + reason
    exercises = {e: _state(nb.cells[i], i, answers / f"{e}.json", timed_out, died) for e, i in calls.items()}
    _send(result_fd, {"nonce": nonce, "status": status, "reason": reason, "timed_out": late, "exercises": exercises})


def _state(cell, index: int, out: Path, timed_out: set[int], died: int | None) -> dict:
    """What became of one exercise's call step (see the module's docstring)."""
    if out.exists():  # written whole, even if the cell was interrupted after
        return {"state": "answered", "text": out.read_text()}
    if index in timed_out:
        return {"state": "timeout"}
    if died == index:
        return {"state": "died"}
    if died is not None and died < index:
        return {"state": "lost", "why": "the notebook's kernel died before this answer was checked"}
    error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
    why = f"{error.get('ename')}: {error.get('evalue')}" if error else "the call step wrote nothing"
    return {"state": "lost", "why": why}


def _send(fd: int, result: dict) -> None:
    data = json.dumps(result).encode()
    while data:
        data = data[os.write(fd, data) :]


def _end_descendants() -> None:
    """Outside a sandbox: end every process this one started (a sandbox's PID namespace does it)."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


if __name__ == "__main__":
    where, descriptor = Path(sys.argv[1]), int(sys.argv[2])
    try:
        run(where, descriptor)
    finally:
        os.close(descriptor)
        if os.getpid() != 1:  # outside a sandbox; inside, its PID namespace ends them all
            _end_descendants()
