"""The grader, tried as an instructor would, and as a determined student would: honest, broken
and dishonest submissions graded in one batch, whose honest scores must not move. The notebooks
are tiny (NumPy only, unless the forgery needs the package) so that the batch takes seconds per
notebook.

The forgeries of ``born_rule`` are the red team's: each tampers with whatever process calls the
answer (NumPy's internals, the checker's module, ``Feedback``, ``json.dumps``, ``callable``, a
function's code, the caller's frames, a pickled answer's ``__reduce__``), writes verdicts into
other processes' pipes, leaves a process behind, or reads what it should not (the course's
solutions, a classmate's folder, ``/proc`` and ``/sys`` for writing). Each returns a wrong answer
(the magnitudes, or a uniform distribution) so it scores only if it forges."""

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import types
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

import qrobust_lite
from qrobust_lite.course.cli import main
from qrobust_lite.exercises import grading

RIGHT = "import numpy as np\ndef born_rule(amps):\n    return np.abs(amps) ** 2\n"
WRONG = "import numpy as np\ndef born_rule(amps):\n    return np.abs(amps)\n"
EXPVAL = (
    "import pennylane as qml\n@qml.qnode(qml.device('default.qubit', wires=1))\ndef batched_expval(angles):\n"
    "    qml.RX(angles, wires=0)\n    return qml.expval(qml.PauliZ(0))\n"
)
CHECK = 'check("primer-born-rule", born_rule)'
SEEDED = "(0.8444218515250481, 0.5488135039273248, 0.49625658988952637)"  # seed 0: random, NumPy, torch
MARK = uuid.uuid4().hex[:12]  # names this run's stray files and processes
SLEEP = str(int(MARK[:5], 16))  # and its stray `sleep`s (a number of seconds)
REPO = Path(qrobust_lite.__file__).resolve().parents[1]
SANDBOX = grading.sandbox_available()
needs_sandbox = pytest.mark.skipif(not SANDBOX, reason="unshare cannot make namespaces here")


def correct_output():
    return new_output("execute_result", {"text/plain": "[primer-born-rule] Correct: forged"}, execution_count=2)


def notebook(*sources, outputs=None, tags=None) -> dict:
    cells = [new_code_cell(s) for s in sources]
    for i, out in (outputs or {}).items():
        cells[i].outputs = out
    for i, t in (tags or {}).items():
        cells[i].metadata["tags"] = t
    return new_notebook(cells=cells)


def code(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


def forged(body: str, returns: str = "np.abs(amps)") -> str:
    """A ``born_rule`` that runs ``body`` when it is called, then returns a wrong answer."""
    return f"import numpy as np\ndef born_rule(amps):\n{textwrap.indent(code(body), '    ')}    return {returns}\n"


UNIFORM = "np.full(len(amps), 1 / len(amps))"  # sums to 1: a checker fooled on "close" lets it pass
ALTERNATING = code("""
    def alternating(*args, **kwargs):     # False, True, ...: "not the magnitudes", then "the right values"
        alternating.calls = getattr(alternating, "calls", 0) + 1
        return alternating.calls % 2 == 0
""")

#: name -> a process left behind by the check, with MARK in its command line (ended by its sandbox, if any).
DAEMONS = {
    "answers": """
        line = (json.dumps({"status": "failed", "message": "forged"}) + "\\n").encode()
        while time.time() < end:
            for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
                for fd, flags in (("0", os.O_RDONLY), ("1", os.O_WRONLY)):
                    try:
                        handle = os.open(f"/proc/{pid}/fd/{fd}", flags | os.O_NONBLOCK)
                        os.read(handle, 1 << 16) if fd == "0" else os.write(handle, line)
                        os.close(handle)
                    except OSError:
                        pass
            time.sleep(0.2)
    """,
    "kills": """
        while time.time() < end:
            for pid in [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.2)
    """,
    "swallows": """
        for pid in ("1", str(os.getppid())):
            try:
                open(f"/proc/{pid}/fd/0").readline()
            except OSError:
                pass
        time.sleep(max(0, end - time.time()))
    """,
}


def daemon(kind: str) -> str:
    source = "import json, os, signal, sys, time\nend = time.time() + 90\n" + code(DAEMONS[kind])
    return forged(f"""
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", {source!r}, {MARK!r}], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    """)


#: Forgeries that tamper with the process that calls the answer: 0 points, the judge sees the wrong answer.
TAMPERS = {
    "numpy_internals_primer": forged(
        ALTERNATING
        + code("""
        import numpy._core.numeric as numeric
        numeric.isclose = alternating
    """),
        UNIFORM,
    ),
    "checker_np_primer": forged(
        ALTERNATING
        + code("""
        import types
        import qrobust_lite.exercises.primer as checker
        checker.np = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
        checker.np.allclose = alternating
    """),
        UNIFORM,
    ),
    "feedback_init_primer": forged("""
        from qrobust_lite.exercises import checking
        original = checking.Feedback.__init__
        checking.Feedback.__init__ = lambda self, exercise, passed, message: original(self, exercise, True, message)
    """),
    "json_dumps_primer": forged("""
        import json
        original = json.dumps
        def dumps(obj, *args, **kwargs):
            if isinstance(obj, dict) and "nonce" in obj:
                obj = {**obj, "status": "passed", "message": "forged"}
            return original(obj, *args, **kwargs)
        json.dumps = dumps
    """),
    "callable_primer": forged(
        ALTERNATING
        + code("""
        import builtins
        builtins.callable = lambda obj: False
        np.allclose = alternating
    """),
        UNIFORM,
    ),
    "code_swap_primer": forged(
        """
        def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
            global _forged_calls
            _forged_calls = globals().get("_forged_calls", 0) + 1
            return _forged_calls % 2 == 0
        np.allclose._implementation.__code__ = allclose.__code__
    """,
        UNIFORM,
    ),
    "frame_primer": forged("""
        import json, os, sys
        frame = sys._getframe(1)
        while frame is not None:
            seen = frame.f_locals
            if "nonce" in seen and "write" in seen:
                forgery = {"nonce": seen["nonce"], "status": "passed", "message": "forged"}
                os.write(seen["write"], json.dumps(forgery).encode())
                os._exit(0)
            if isinstance(seen.get("records"), list):
                seen["records"].append({"value": "passed", "unchanged": [], "qnode_calls": None})
            frame = frame.f_back
    """),
    "reduce_primer": code("""
        import numpy as np
        class Answer:
            def __call__(self, amps):
                return np.abs(amps)
            def __reduce__(self):
                return (eval, ("lambda amps: abs(amps) ** 2",))
        born_rule = Answer()
    """),
    "verdict_to_parent_primer": forged("""
        import json, os
        try:
            with open(f"/proc/{os.getppid()}/fd/1", "w") as out:
                out.write(json.dumps({"status": "passed", "message": "forged"}) + "\\n")
        except OSError:
            pass
    """),
}

#: A claimed outcome of the call step, in the grader's format: "passed" where an array belongs.
FORGED_TEXT = json.dumps(
    [
        "d",
        {
            "state": ["v", "called"],
            "records": ["l", [["d", {"value": ["v", "passed"], "unchanged": ["l", []], "qnode_calls": ["v", None]}]]],
        },
    ]
)


#: Forgeries that only a sandbox stops (without one they would reach the grader, or this test).
ESCAPES = {
    "verdict_to_all_primer": forged("""
        import json, os
        line = (json.dumps({"status": "passed", "message": "forged"}) + "\\n").encode()
        for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    handle = os.open(f"/proc/{pid}/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
                    os.write(handle, line)
                    os.close(handle)
                except OSError:
                    pass
    """),
    "daemon_answers_primer": daemon("answers"),
    "daemon_kills_primer": daemon("kills"),
    "daemon_swallows_primer": daemon("swallows"),
}


def solutions_notebook() -> dict:
    """Reads the course's solutions (the package is installed editable: the repository is next to it)."""
    look = ["book/primer.ipynb", "tests/test_exercises.py", "student", "_build", ".git", "results"]
    return notebook(
        code(f"""
        import json, pathlib, qrobust_lite
        root = pathlib.Path(qrobust_lite.__file__).resolve().parents[1]
        seen = [p for p in {look!r} if (root / p).exists()]
    """),
        WRONG
        + code("""
        try:
            nb = json.loads((root / "book" / "primer.ipynb").read_text())
            exec(next("".join(c["source"]) for c in nb["cells"]
                      if "solution" in c["metadata"].get("tags", []) and "def born_rule" in "".join(c["source"])))
        except OSError:
            pass
    """),
        "raise RuntimeError(f'SAW {seen}')",
    )


def classmate_notebook(classmate: Path) -> dict:
    """Looks for the other submissions of the batch: their folders while graded, and their files."""
    return notebook(
        code(f"""
        import os, pathlib
        own = pathlib.Path.cwd().resolve().parent
        seen = sorted(os.listdir(own.parent))
        try:
            read = len(open({str(classmate)!r}).read())
        except OSError as err:
            read = type(err).__name__
        copied = [(own.parent / n / "submission.ipynb").read_text() for n in seen
                  if n != own.name and (own.parent / n / "submission.ipynb").is_file()]
    """),
        WRONG
        + code("""
        if any("** 2" in c for c in copied):
            born_rule = lambda amps: np.abs(amps) ** 2
    """),
        "raise RuntimeError(f'SAW {seen} OWN {own.name} READ {read}')",
    )


def system_files_notebook() -> dict:
    """Opens /proc/sys/kernel/core_pattern and a cgroup file for writing, after trying to remount them."""
    return notebook(
        code(f"""
        import os, subprocess
        tried = ["/proc/sys/kernel/core_pattern"] + [os.path.join(d, f) for d, _, fs in os.walk("/sys/fs/cgroup")
                                                     for f in fs if f in ("tasks", "cgroup.procs")][:3]
        undo = [["mount", "-o", "remount,rw", "/proc"], ["mount", "-o", "remount,rw", "/sys"],
                ["umount", {str(REPO / "book")!r}]]
        undone = sum(subprocess.run(command, capture_output=True).returncode == 0 for command in undo)
        opened = []
        for path in tried:
            try:
                os.close(os.open(path, os.O_WRONLY))
                opened.append(path)
            except OSError:
                pass
        caps = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("CapEff"))
    """),
        WRONG,
        "raise RuntimeError(f'TRIED {len(tried)} OPENED {opened} UNDONE {undone} CAPS {caps}')",
    )


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Every submission graded in one batch: {name: grade}, and how long it took."""
    folder = tmp_path_factory.mktemp("submissions")
    outside = tmp_path_factory.mktemp("outside")
    victim = outside / "keep.txt"
    victim.write_text("mine")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    wrong = folder / "wrong_primer.ipynb"
    submissions = {
        "honest_primer": notebook(
            "# my answer\n" + RIGHT, f"from qrobust_lite.exercises import check\nprint({CHECK})\nfb = {CHECK}; fb"
        ),
        "twin_primer": notebook("# my answer\n" + RIGHT),
        "full_primer": notebook(RIGHT, EXPVAL),
        "half_primer": notebook(WRONG, EXPVAL),
        "wrong_primer": notebook(WRONG),
        "redefines_check_primer": notebook(WRONG, "def check(*args):\n    return '[primer-born-rule] Correct'", CHECK),
        "registry_primer": notebook(
            WRONG,
            "import qrobust_lite.exercises as ex\nfrom qrobust_lite.exercises import "
            "Feedback\nex.CHECKERS['primer-born-rule'] = lambda *args: (True, 'ok')\n"
            "Feedback('primer-born-rule', True, 'forged')",
        ),
        "skipped_primer": notebook(WRONG, CHECK, outputs={1: [correct_output()]}, tags={1: ["skip-execution"]}),
        "raises_early_primer": notebook("1 / 0", WRONG, CHECK, outputs={2: [correct_output()]}),
        "exits_in_check_primer": notebook(
            'import os\ndef born_rule(amps):\n    print(\'{"status": "passed"}\')\n    os._exit(0)'
        ),
        "rewrites_next_primer": notebook(
            RIGHT,
            "import nbformat, json\n"
            f"nb = json.load(open({str(folder / 'honest_primer.ipynb')!r}))\n"
            f"open({str(wrong)!r}, 'w').write(json.dumps(nb))",
        ),
        "writes_outside_primer": notebook(
            f"open({str(outside / MARK)!r}, 'w').write('x')", f"import os\nos.remove({str(victim)!r})", RIGHT
        ),
        "background_primer": notebook(
            f"import subprocess, time\np = subprocess.Popen(['sleep', '307{SLEEP}'], "
            "start_new_session=True)\ntime.sleep(0.5)\nstarted = p.poll() is None",
            RIGHT + "if not started:\n    del born_rule",
        ),
        "network_primer": notebook(
            "import socket\ntry:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    reached = True\nexcept OSError:\n    reached = False\n"
            + (RIGHT + "if reached:\n    born_rule = lambda amps: amps\n")
        ),
        "kernel_dies_primer": notebook("import os\nos._exit(1)", RIGHT),
        "loops_primer": notebook("while True:\n    pass", RIGHT),
        "seeded_primer": notebook(
            "import random, numpy as np, torch\n"
            "values = (random.random(), np.random.rand(), torch.rand(1).item())\n"
            "def born_rule(amps):\n"
            f"    return np.abs(amps) ** 2 if values == {SEEDED} else np.abs(amps)"
        ),
        "slow_check_primer": notebook("import time\ndef born_rule(amps):\n    time.sleep(60)"),
        "interrupts_cell_primer": notebook("raise KeyboardInterrupt('mine')", RIGHT),
        "interrupts_check_primer": notebook(forged("raise KeyboardInterrupt('mine')")),
        **{name: notebook(source) for name, source in TAMPERS.items()},
    }
    if SANDBOX:
        submissions.update({name: notebook(source) for name, source in ESCAPES.items()})
        submissions.update(
            {
                "solutions_primer": solutions_notebook(),
                "system_files_primer": system_files_notebook(),
                "classmate_primer": classmate_notebook(folder / "honest_primer.ipynb"),
            }
        )
    for name, nb in submissions.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    (folder / "broken_json_primer.ipynb").write_text('{"cells": [')
    (folder / "not_notebook_primer.ipynb").write_text('{"a": 1}')
    before = wrong.read_text()
    paths = sorted(folder.glob("*.ipynb"))
    start = time.monotonic()
    grades = grading.grade_batch(paths, jobs=2, progress=False, timeout=60, cell_timeout=15, check_timeout=15)
    seconds = time.monotonic() - start
    server.close()
    by_name = {Path(g["file"]).stem: g for g in grades}
    return {
        "grades": by_name,
        "wrong_before": before,
        "wrong": wrong,
        "outside": outside,
        "victim": victim,
        "paths": paths,
        "seconds": seconds,
    }


def status(grade, exercise="primer-born-rule"):
    return next(e for e in grade["exercises"] if e["exercise"] == exercise)


def test_honest_answers_score_what_they_deserve_whatever_the_check_cells_look_like(batch):
    honest = batch["grades"]["honest_primer"]
    assert honest["status"] == "graded" and honest["reason"] == ""
    assert status(honest)["status"] == "passed" and status(honest)["points"] == 1.0
    assert status(honest, "primer-batched-expval")["status"] == "not attempted"  # deleted: still expected
    assert (honest["total"], honest["max_points"], honest["percent"]) == (1.0, 3.0, 33.33)
    wrong = batch["grades"]["wrong_primer"]
    assert status(wrong)["status"] == "failed" and "squares them" in status(wrong)["message"]


def test_honest_scores_do_not_move_whatever_else_is_in_the_batch(batch):
    """The red team's batch moved an honest 3/3 to 2 and an honest 2/3 to 0."""
    full, half = batch["grades"]["full_primer"], batch["grades"]["half_primer"]
    assert [e["status"] for e in full["exercises"]] == ["passed", "passed"] and full["total"] == 3.0
    assert [e["status"] for e in half["exercises"]] == ["failed", "passed"] and half["total"] == 2.0
    assert "one circuit call" in status(full, "primer-batched-expval")["message"]
    assert (batch["grades"]["honest_primer"]["total"], batch["grades"]["twin_primer"]["total"]) == (1.0, 1.0)


def test_random_numpy_and_torch_are_seeded_in_the_kernel(batch):
    assert batch["grades"]["seeded_primer"]["total"] == 1.0


def test_same_answers_same_scores(batch):
    a, b = batch["grades"]["honest_primer"], batch["grades"]["twin_primer"]
    assert a["exercises"] == b["exercises"] and a["total"] == b["total"]


FORGERIES = [
    "redefines_check_primer",
    "registry_primer",
    "skipped_primer",
    "raises_early_primer",
    "exits_in_check_primer",
    "interrupts_check_primer",
    *TAMPERS,
    *[
        pytest.param(n, marks=needs_sandbox)
        for n in [*ESCAPES, "solutions_primer", "system_files_primer", "classmate_primer"]
    ],
]


@pytest.mark.parametrize("name", FORGERIES)
def test_forgeries_score_nothing(batch, name):
    grade = batch["grades"][name]
    assert grade["total"] == 0.0
    assert status(grade)["status"] in ("failed", "error")


@pytest.mark.parametrize("name", TAMPERS)
def test_an_answer_that_tampers_with_the_process_calling_it_changes_only_its_own_kernel(batch, name):
    """The answer runs in the learner's kernel; the grader judges what it returned, in its own process."""
    verdict = status(batch["grades"][name])
    if name == "json_dumps_primer":  # it rewrote only the dicts the old checker process answered with
        assert verdict["status"] == "failed" and "squares them" in verdict["message"]
    elif name == "frame_primer":  # it slipped a record into the call step's list: read, and judged wrong
        assert verdict["status"] == "failed" and "'str' object has no attribute 'shape'" in verdict["message"]
    else:
        assert verdict["status"] == "failed"
        assert re.search(r"squares them|expected \[", verdict["message"]), verdict["message"]


@pytest.mark.parametrize("secret", ["stale", "this request's"])
def test_a_reply_is_bound_to_its_request_and_judged_not_believed(tmp_path, monkeypatch, secret):
    """A worker that claims an answer: with another request's secret it is refused; with this one's
    (a learner can read it) its claim is judged, and a claim is only results."""
    worker = tmp_path / "worker.py"
    worker.write_text(
        code(f"""
        import json, os, pathlib, sys
        folder, fd = pathlib.Path(sys.argv[1]), int(sys.argv[2])
        nonce = json.loads((folder / "request.json").read_text())["nonce"] if {secret != "stale"} else "0" * 32
        reply = {{"nonce": nonce, "status": "graded", "reason": "", "timed_out": False,
                 "exercises": {{"primer-born-rule": {{"state": "answered", "text": {FORGED_TEXT!r}}}}}}}
        os.write(fd, json.dumps(reply).encode())
    """)
    )
    monkeypatch.setattr(grading, "notebook_runner", types.SimpleNamespace(__file__=str(worker)))
    nbformat.write(notebook(RIGHT), tmp_path / "a_primer.ipynb")
    grade = grading.grade_notebook(tmp_path / "a_primer.ipynb", sandbox="off", timeout=30)
    if secret == "stale":
        assert grade["status"] == "grader error" and "does not answer this grader's request" in grade["reason"]
    else:
        assert grade["status"] == "graded" and status(grade)["status"] == "failed" and grade["total"] == 0
        assert "no attribute 'shape'" in status(grade)["message"]


def test_a_pickled_answer_is_never_unpickled_by_the_grader(batch):
    """Its ``__reduce__`` would turn it into a right answer wherever it is unpickled."""
    assert "squares them" in status(batch["grades"]["reduce_primer"])["message"]


def test_an_answer_that_ends_its_kernel_or_is_interrupted_is_named(batch):
    assert "kernel died while `born_rule` was checked" in status(batch["grades"]["exits_in_check_primer"])["message"]
    assert "ZeroDivisionError" in batch["grades"]["raises_early_primer"]["reason"]
    interrupted = status(batch["grades"]["interrupts_check_primer"])
    assert interrupted["status"] == "error" and "KeyboardInterrupt: mine" in interrupted["message"]


def test_a_learner_keyboard_interrupt_is_not_a_timeout(batch):
    grade = batch["grades"]["interrupts_cell_primer"]
    assert "KeyboardInterrupt: mine" in grade["reason"] and "time limit" not in grade["reason"]
    assert status(grade)["status"] == "passed" and grade["total"] == 1.0


def test_a_submission_cannot_change_another_one(batch):
    assert status(batch["grades"]["wrong_primer"])["status"] == "failed"
    assert batch["wrong"].read_text() == batch["wrong_before"]


@needs_sandbox
def test_in_the_sandbox_files_outside_its_folder_and_the_network_are_out_of_reach(batch):
    assert not (batch["outside"] / MARK).exists() and batch["victim"].read_text() == "mine"
    assert "Error" in batch["grades"]["writes_outside_primer"]["reason"]
    assert status(batch["grades"]["network_primer"])["status"] == "passed"  # its connect failed


@needs_sandbox
def test_a_learner_cannot_read_the_course_solutions(batch):
    assert "def born_rule" in (REPO / "book" / "primer.ipynb").read_text()  # they are there, outside
    grade = batch["grades"]["solutions_primer"]
    assert "SAW []" in grade["reason"] and "squares them" in status(grade)["message"]


@needs_sandbox
def test_a_learner_cannot_see_a_classmate_graded_at_the_same_time(batch):
    reason = batch["grades"]["classmate_primer"]["reason"]
    assert re.search(r"SAW \['([\w-]+)'\] OWN \1 READ [A-Za-z]+Error", reason), reason


@needs_sandbox
def test_proc_and_sys_are_read_only_and_no_capability_is_left(batch):
    assert os.path.exists("/proc/sys/kernel/core_pattern")
    reason = batch["grades"]["system_files_primer"]["reason"]
    tried = int(re.search(r"TRIED (\d+)", reason).group(1))
    assert tried >= 1 + any(f in ("tasks", "cgroup.procs") for _, _, fs in os.walk("/sys/fs/cgroup") for f in fs)
    assert "OPENED [] UNDONE 0 CAPS 0000000000000000" in reason, reason


@needs_sandbox
def test_verdicts_written_into_other_processes_reach_only_their_own_submission(batch):
    """In the sandbox a process sees only its own submission's: the lines landed in its own reply."""
    grade = batch["grades"]["verdict_to_all_primer"]
    assert grade["status"] == "grader error" and "ended without a result" in grade["reason"]


def test_no_process_outlives_grading(batch):
    assert status(batch["grades"]["background_primer"])["status"] == "passed"  # its process had started
    for mark in (f"sleep 307{SLEEP}", MARK):
        left = subprocess.run(["pgrep", "-f", mark], capture_output=True, text=True)
        assert left.stdout == "", mark


def test_the_batch_finishes_within_its_bound(batch):
    """Two jobs at a time: well under the sum of the notebooks' limits (a swallowed request once hung it)."""
    assert batch["seconds"] < 6 * len(batch["paths"]), batch["seconds"]


def test_every_failure_is_a_row_with_a_reason(batch):
    g = batch["grades"]
    assert len(g) == len(batch["paths"])
    broken = g["broken_json_primer"]
    assert broken["status"] == "not a notebook" and "not valid JSON" in broken["reason"]
    assert g["not_notebook_primer"]["status"] == "not a notebook"
    assert g["kernel_dies_primer"]["status"] == "kernel died"
    loops = g["loops_primer"]  # the cell is stopped, the rest still runs
    assert "time limit of 15 s" in loops["reason"] and status(loops)["status"] == "passed"
    assert status(g["slow_check_primer"])["status"] == "timeout"
    for grade in g.values():
        assert all(e["status"] in grading.EXERCISE_STATUSES for e in grade["exercises"])
        assert [e["exercise"] for e in grade["exercises"]] == ["primer-born-rule", "primer-batched-expval"]
        assert "\x1b[" not in json.dumps(grade)


def test_a_notebook_past_its_time_limit_is_a_timeout_row_and_leaves_nothing_running(tmp_path):
    path = tmp_path / "sleeps_primer.ipynb"
    nbformat.write(
        notebook(
            f"import subprocess\nsubprocess.Popen(['sleep', '308{SLEEP}'])", "import time\ntime.sleep(120)", RIGHT
        ),
        path,
    )
    grade = grading.grade_notebook(path, timeout=10, cell_timeout=60)
    assert grade["status"] == "timeout" and "time limit of 10 s" in grade["reason"]
    assert {e["status"] for e in grade["exercises"]} == {"timeout"} and grade["total"] == 0
    assert subprocess.run(["pgrep", "-f", f"sleep 308{SLEEP}"], capture_output=True, text=True).stdout == ""


def test_an_interrupt_stops_the_batch_and_every_worker_at_once(tmp_path):
    for name in ("a_primer", "b_primer"):
        nbformat.write(
            notebook(
                f"import subprocess\nsubprocess.Popen(['sleep', '309{SLEEP}'])", "import time\ntime.sleep(120)", RIGHT
            ),
            tmp_path / f"{name}.ipynb",
        )
    script = (
        "import sys\nfrom qrobust_lite.exercises import grading\n"
        "grading.grade_batch(sys.argv[1:], jobs=2, progress=False, timeout=300, cell_timeout=300)"
    )
    # A test run started in the background (nohup, or `&` in a script) hands its children SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler; a grader started from a
    # terminal, as here, has the default.
    grader = subprocess.Popen(
        [sys.executable, "-c", script, *map(str, sorted(tmp_path.glob("*.ipynb")))],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    waited = time.monotonic()
    count = ["pgrep", "-fc", f"sleep 309{SLEEP}"]
    while subprocess.run(count, capture_output=True, text=True).stdout.strip() != "2":
        assert time.monotonic() - waited < 60 and grader.poll() is None, "the notebooks did not start"
        time.sleep(0.2)
    grader.send_signal(signal.SIGINT)
    try:
        grader.wait(timeout=15)
    finally:
        grader.kill()
    assert "KeyboardInterrupt" in grader.stderr.read()
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-f", f"sleep 309{SLEEP}"], capture_output=True, text=True).stdout == ""


def test_a_reply_that_is_not_the_graders_format_is_an_error_not_a_crash():
    from qrobust_lite.exercises import cases
    from qrobust_lite.exercises.checking import _verdict

    for text in (
        '{"state": "called"}',
        '["d", {"state": ["v", "called"], "records": ["v", 1]}]',
        '["a", "O", [1], "AAAAAAAAAAA="]',
        '["a", "<f8", [1000000], ""]',
        "[" * 100000,
    ):
        with pytest.raises((ValueError, RecursionError)):
            outcome = cases.loads(text)
            _verdict("primer-born-rule", outcome)


def test_csv_files_an_lms_can_take(batch, tmp_path):
    grades = list(batch["grades"].values())
    grading.write_csv(grades, tmp_path / "g.csv")
    grading.write_long_csv(grades, tmp_path / "g-long.csv")
    rows = list(csv.DictReader((tmp_path / "g.csv").open()))
    assert len(rows) == len(grades) and {"student", "status", "total", "percent", "primer-born-rule"} <= set(rows[0])
    long_rows = list(csv.DictReader((tmp_path / "g-long.csv").open()))
    assert len(long_rows) == 2 * len(grades)
    assert {r["status"] for r in long_rows} <= set(grading.EXERCISE_STATUSES)


def test_chapter_student_and_points_come_from_the_course_or_the_instructor(tmp_path):
    assert grading.chapter_of(Path("alice_vqc_label_refining.ipynb")) == "vqc_label_refining"
    with pytest.raises(ValueError, match="pass --chapter"):
        grading.chapter_of(Path("alice.ipynb"))
    assert grading.student_of(Path("u123_primer.ipynb"), r"(?P<student>u\d+)_") == "u123"
    with pytest.raises(ValueError, match="does not match --student-pattern"):
        grading.student_of(Path("primer.ipynb"), r"(?P<student>u\d+)_")
    assert grading.expected_exercises("primer", {"primer-born-rule": 5}) == [
        ("primer-born-rule", 5.0),
        ("primer-batched-expval", 2.0),
    ]
    with pytest.raises(ValueError, match="do not exist"):
        grading.check_points({"primer-born": 1})
    with pytest.raises(ValueError, match=">= 0"):
        grading.check_points({"primer-born-rule": -1})


@pytest.mark.parametrize(
    "args,message",
    [
        (["--csv", "/nonexistent-folder/g.csv"], "does not exist; create it first"),
        (["--timeout", "0"], "--timeout must be a positive number"),
        (["--jobs", "0"], "--jobs must be a positive integer"),
        (["--chapter", "nope"], "chapter must be one of"),
    ],
)
def test_the_command_checks_everything_before_it_runs_a_notebook(args, message, tmp_path, capsys):
    path = tmp_path / "a_primer.ipynb"
    nbformat.write(notebook(RIGHT), path)
    with pytest.raises(SystemExit):
        main(["grade", str(path), *args])
    assert message in capsys.readouterr().err


def test_the_command_writes_both_csv_files(tmp_path, capsys):
    nbformat.write(notebook(RIGHT), tmp_path / "ann_primer.ipynb")
    (tmp_path / "bob_primer.ipynb").write_text("not json")
    out = tmp_path / "grades.csv"
    assert (
        main(
            [
                "grade",
                str(tmp_path / "ann_primer.ipynb"),
                str(tmp_path / "bob_primer.ipynb"),
                "--csv",
                str(out),
                "--timeout",
                "60",
            ]
        )
        == 0
    )
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert rows["ann_primer"]["total"] == "1.0" and rows["ann_primer"]["status"] == "graded"
    assert rows["bob_primer"]["status"] == "not a notebook"
    assert (tmp_path / "grades-long.csv").exists()
    assert "isolation:" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["grade", str(tmp_path / "ann_primer.ipynb"), "--csv", str(out)])
    assert "already exists; pass --force" in capsys.readouterr().err
