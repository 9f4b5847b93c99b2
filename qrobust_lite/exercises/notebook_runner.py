"""Runs one learner's notebook and takes its answers out (book: *For instructors*, section
*Grading*). :func:`~qrobust_lite.exercises.grading.grade_notebook` starts it as a script,
``python notebook_runner.py RESULT_FD FOLDER``, in a sandbox where Linux allows it: it imports
only the standard library and nbclient (not the package: seconds per notebook), runs every code
cell in a fresh kernel, pickles each answer into ``FOLDER/work/.answers`` and writes
``{"status", "reason", "timed_out", "answers": {exercise: "pickled" | "missing" | why not}}``
to the file descriptor ``RESULT_FD``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_TAKE_ANSWERS = '''
def __qrobust_take_answers(names, folder):
    import os, cloudpickle
    for exercise, name in names.items():
        target = os.path.join(folder, exercise)
        if name not in globals():
            open(target + ".missing", "w").close()
            continue
        try:
            with open(target + ".pkl", "wb") as handle:
                cloudpickle.dump(globals()[name], handle)
        except Exception as err:
            with open(target + ".unpicklable", "w") as handle:
                handle.write(type(err).__name__ + ": " + str(err))
__qrobust_take_answers({names!r}, {folder!r})
'''

# Seeds for random, NumPy and torch; torch is seeded when the notebook imports it (importing it
# here would add seconds and 400 MB to every notebook that never uses it).
_SEED = '''
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
'''


def sandbox(work: Path, loopback: bool = True) -> None:
    """Inside fresh namespaces: everything read-only but ``work``; loopback up (a kernel talks
    to its client over it)."""
    import fcntl
    import socket
    import struct
    subprocess.run(["mount", "--bind", str(work), str(work)], check=True)
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point == str(work) or point in ("/dev", "/dev/pts") or point.startswith(("/proc", "/sys")):
            continue
        subprocess.run(["mount", "-o", "remount,bind,ro", point], capture_output=True)
    if not loopback:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", 0x1 | 0x8 | 0x40))   # SIOCSIFFLAGS: up, running


def run(result_fd: int, folder: Path) -> None:
    """Run the submission in a kernel and take its answers out: writes ``{"status", "reason",
    "timed_out", "answers": {exercise: "pickled" | "missing" | why not}}`` to ``result_fd``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    request = json.loads((folder / "request.json").read_text())
    work = folder / "work"
    if request["sandbox"]:
        sandbox(work)
    answers = work / ".answers"
    answers.mkdir()
    try:
        nb = nbformat.reads((work / "submission.ipynb").read_text(), as_version=4)
        cells = [c for c in nb.cells if c.cell_type == "code"]
    except Exception as err:                          # noqa: BLE001  (any malformed file is one reason)
        _send(result_fd, {"status": "not a notebook", "reason": f"the file is not a Jupyter notebook ({err})"})
        return
    for cell in cells:
        cell.outputs, cell.execution_count, cell.metadata = [], None, {}
    take = _TAKE_ANSWERS.format(names=request["answers"], folder=str(answers))
    nb.cells = [nbformat.v4.new_code_cell(_SEED)] + cells + [nbformat.v4.new_code_cell(take)]
    limit = request["cell_timeout"]
    client = NotebookClient(nb, timeout=limit, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, skip_cells_with_tag="qrobust-grader-runs-every-cell",
                            error_on_timeout={"ename": "CellTimeout", "traceback": [],
                                              "evalue": f"the cell ran past its time limit of {limit:g} s"},
                            resources={"metadata": {"path": str(work)}})
    status, reason = "graded", ""
    try:
        client.execute()
    except DeadKernelError:
        status, reason = "kernel died", "the notebook's kernel died (the code ended its process, or ran out of memory)"
    except Exception as err:                          # noqa: BLE001  (a kernel that cannot start, say)
        status, reason = "kernel died", f"the notebook could not be run to the end: {type(err).__name__}: {err}"
    errors = [o for c in nb.cells[1:-1] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if errors and status == "graded":
        first = errors[0]
        reason = f"{len(errors)} cell(s) raised an error; the first: {first.get('ename')}: {first.get('evalue')}"
    taken = {}
    for exercise in request["answers"]:
        if (answers / f"{exercise}.pkl").exists():
            taken[exercise] = "pickled"
        elif (answers / f"{exercise}.missing").exists():
            taken[exercise] = "missing"
        elif (answers / f"{exercise}.unpicklable").exists():
            taken[exercise] = (answers / f"{exercise}.unpicklable").read_text()
    timed_out = any(o.get("ename") in ("CellTimeout", "KeyboardInterrupt") for o in errors)
    if timed_out and status == "graded":
        reason = f"a cell ran past its time limit of {limit:g} s and was interrupted; " + reason
    _send(result_fd, {"status": status, "reason": reason, "answers": taken, "timed_out": timed_out})


def _send(fd: int, result: dict) -> None:
    data = json.dumps(result).encode()
    while data:
        data = data[os.write(fd, data):]


def _end_descendants() -> None:
    """Outside a sandbox: end every process this one started (a sandbox's PID namespace does it)."""
    import psutil
    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


if __name__ == "__main__":
    descriptor, where = int(sys.argv[1]), Path(sys.argv[2])
    try:
        run(descriptor, where)
    finally:
        os.close(descriptor)
        if os.getpid() != 1:           # outside a sandbox; inside, its PID namespace ends them all
            _end_descendants()
