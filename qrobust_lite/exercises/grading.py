"""Grading learners' notebooks (book: *For instructors*, section *Grading*; command:
``qrobust-lite grade``).

The course, not the submission, defines what is graded, as in otter-grader and nbgrader: a
chapter's exercises are the checkers registered for it (``qrobust_lite.exercises.CHAPTERS``),
each with the name of the answer a learner defines (:data:`~qrobust_lite.exercises.checking.ANSWERS`)
and its points (its level, :data:`~qrobust_lite.exercises.checking.LEVELS`, unless the
instructor gives others). A learner's notebook only supplies answers:

1. Every submission is read into memory before any learner code runs, so no submission can
   change another one's file.
2. A **worker process** per submission runs its code cells in a fresh kernel, in a temporary
   working folder: stored outputs and cell tags are ignored, an error in one cell does not stop
   the others, and each cell has a timeout. Where Linux allows it (``unshare``: user, mount, PID
   and network namespaces) the worker and everything it starts run in a **sandbox**: the file
   system is read-only except that folder, there is no network (loopback only), and every
   process in it ends with it. Elsewhere only the folder and the process group are the
   learner's own.
3. Each answer is taken out of the kernel (cloudpickle) and checked by a **checker server**
   that imported the checkers before any learner code existed (one per batch, in a sandbox of
   its own where available: read-only files, no network): in a forked copy per exercise, with
   seeds fixed, a timeout, and a check that NumPy's, torch's and the checkers' functions are
   still the ones imported.

Each exercise gets a status (:data:`EXERCISE_STATUSES`), its points and the checker's message;
a submission that cannot be graded (not JSON, not a notebook, a kernel that died, the
notebook's time limit) gets a row with the reason, and the batch always finishes.

>>> [e for e, _ in expected_exercises("primer")]
['primer-born-rule', 'primer-batched-expval']
"""

from __future__ import annotations

import csv
import functools
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import validation
from . import notebook_runner

#: What an exercise's grade can be.
EXERCISE_STATUSES = ("passed", "failed", "not attempted", "error", "timeout")
#: What a submission's grade can be ("graded" means its exercises were checked, whatever their scores).
SUBMISSION_STATUSES = ("graded", "not a notebook", "kernel died", "timeout", "grader error")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(text: str) -> str:
    """``text`` without terminal colour codes (what an LMS can show)."""
    return _ANSI.sub("", text)


def expected_exercises(chapter: str, points: dict[str, float] | None = None) -> list[tuple[str, float]]:
    """``[(exercise, points)]`` of ``chapter`` (a notebook name such as ``"primer"``), in the
    chapter's order; points are the exercise's level unless ``points`` gives them."""
    from . import CHAPTERS, LEVELS
    chapters = sorted(set(CHAPTERS.values()))
    if chapter not in chapters:
        raise ValueError(f"chapter must be one of {chapters}, got {chapter!r}")
    points = points or {}
    return [(e, float(points.get(e, LEVELS[e]))) for e, c in CHAPTERS.items() if c == chapter]


def check_points(points: dict) -> dict[str, float]:
    """An instructor's ``{exercise: points}``: known exercises, finite numbers >= 0."""
    from . import CHECKERS
    if not isinstance(points, dict):
        raise ValueError(f"points must map exercise ids to numbers, got {type(points).__name__}")
    unknown = sorted(set(points) - set(CHECKERS))
    if unknown:
        raise ValueError(f"points names exercises that do not exist: {unknown}; they are {sorted(CHECKERS)}")
    checked = {e: validation.number(v, f"points[{e!r}]") for e, v in points.items()}
    negative = {e: v for e, v in checked.items() if v < 0}
    if negative:
        raise ValueError(f"points must be numbers >= 0, got {negative}")
    return checked


def chapter_of(path: Path, chapter: str | None = None) -> str:
    """The chapter a submission answers: ``chapter`` when given, else the chapter whose notebook
    name is in the file name (the longest, so ``alice_primer.ipynb`` is ``"primer"``)."""
    from . import CHAPTERS
    if chapter is not None:
        expected_exercises(chapter)          # names the allowed chapters if it is not one
        return chapter
    found = sorted((c for c in set(CHAPTERS.values()) if c in path.name), key=len)
    if not found:
        raise ValueError(f"cannot tell which chapter {path.name} answers: its name contains no chapter's "
                         f"notebook name ({sorted(set(CHAPTERS.values()))}); pass --chapter")
    return found[-1]


def student_of(path: Path, pattern: str | None = None) -> str:
    """The student id: the file name without ``.ipynb``, or the ``student`` group of
    ``pattern`` (a regular expression matched against the file name)."""
    if pattern is None:
        return path.stem
    match = re.search(pattern, path.name)
    if match is None or "student" not in match.groupdict():
        raise ValueError(f"file name {path.name!r} does not match --student-pattern {pattern!r} "
                         "(it needs a group named student, e.g. '(?P<student>[^_]+)_')")
    return match.group("student")


@functools.lru_cache(maxsize=1)
def sandbox_available() -> bool:
    """Whether ``unshare`` can give a worker its own user, mount, PID and network namespaces."""
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rmnpf", "--kill-child", "--mount-proc", "true"], capture_output=True)
    return probe.returncode == 0


def _limit_memory(megabytes: int | None):
    def limit() -> None:
        if megabytes:
            size = megabytes * 2 ** 20
            resource.setrlimit(resource.RLIMIT_AS, (size, size))
    return limit


def _kill_tree(pid: int) -> None:
    """End ``pid`` and every process below it (what a sandbox does by itself)."""
    import psutil
    try:
        root = psutil.Process(pid)
        family = root.children(recursive=True) + [root]
    except psutil.NoSuchProcess:
        return
    for process in family:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def _row(student: str, path: Path, chapter: str | None, status: str, reason: str,
         exercises: list[dict], points: dict[str, float] | None = None) -> dict:
    """One submission's grade, with ``total``, ``max_points`` and ``percent``."""
    if not exercises and chapter is not None:
        exercises = [{"exercise": e, "status": "error" if status != "timeout" else "timeout", "points": 0.0,
                      "max_points": p, "message": reason} for e, p in expected_exercises(chapter, points)]
    total = sum(e["points"] for e in exercises)
    most = sum(e["max_points"] for e in exercises)
    return {"student": student, "file": str(path), "chapter": chapter, "status": status, "reason": plain(reason),
            "exercises": exercises, "total": total, "max_points": most,
            "percent": round(100 * total / most, 2) if most else 0.0}


class CheckServer:
    """The pristine process that checks answers (see the module's docstring); ``check`` may be
    called from several threads. Use it as a context manager."""

    def __init__(self, sandbox: bool, memory_mb: int | None) -> None:
        self.sandbox, self.memory_mb = sandbox, memory_mb
        self._lock = threading.Lock()
        self._scratch = tempfile.TemporaryDirectory(prefix="qrobust-checks-")
        self._start()

    def _start(self) -> None:
        command = [sys.executable, "-m", "qrobust_lite.exercises.check_server", self._scratch.name,
                   "sandbox" if self.sandbox else "plain"]
        if self.sandbox:
            command = ["unshare", "-rmnpf", "--kill-child", "--mount-proc"] + command
        env = {**os.environ, "HOME": self._scratch.name, "TMPDIR": self._scratch.name,
               "MPLCONFIGDIR": self._scratch.name, "PYTHONDONTWRITEBYTECODE": "1"}
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                         env=env, cwd=self._scratch.name, start_new_session=True,
                                         preexec_fn=_limit_memory(self.memory_mb))
        if self._process.stdout.readline().strip() != "ready":
            raise RuntimeError("the grader's checker server did not start")

    def check(self, exercise: str, answer: Path, timeout: float) -> dict:
        """The verdict ``{"status", "message"}`` on the pickled ``answer`` to ``exercise``."""
        with self._lock:
            try:
                self._process.stdin.write(json.dumps({"exercise": exercise, "answer": str(answer),
                                                      "timeout": timeout}) + "\n")
                self._process.stdin.flush()
                line = self._process.stdout.readline()
            except OSError:
                line = ""
            if line:
                return json.loads(line)
            _kill_tree(self._process.pid)         # the answer ended the server: start a fresh one
            self._start()
            return {"status": "error", "message": "the check ended the grader's checker process"}

    def close(self) -> None:
        self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        finally:
            _kill_tree(self._process.pid)
            self._scratch.cleanup()

    def __enter__(self) -> "CheckServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _isolated(sandbox: str) -> bool:
    if sandbox not in ("auto", "required", "off"):
        raise ValueError(f"sandbox must be 'auto', 'required' or 'off', got {sandbox!r}")
    isolated = sandbox != "off" and sandbox_available()
    if sandbox == "required" and not isolated:
        raise RuntimeError("sandbox='required' but unshare cannot make user, mount, PID and network namespaces here")
    return isolated


def grade_notebook(path: str | Path, chapter: str | None = None, *, source: bytes | None = None,
                   student: str | None = None, timeout: float = 600, cell_timeout: float = 120,
                   check_timeout: float = 60, memory_mb: int | None = 4096, points: dict | None = None,
                   sandbox: str = "auto", server: CheckServer | None = None) -> dict:
    """Grade one submission: ``{"student", "file", "chapter", "status", "reason", "exercises":
    [{"exercise", "status", "points", "max_points", "message"}], "total", "max_points", "percent"}``.

    ``timeout``: seconds for the whole notebook, ``cell_timeout`` per cell, ``check_timeout``
    per check; ``memory_mb``: the address-space limit of the kernel and the checks (None: none);
    ``sandbox``: ``"auto"`` (where available), ``"required"`` (refuse without) or ``"off"``.
    ``source``: the file's bytes, read earlier (the batch reads them all first); ``server``: a
    :class:`CheckServer` to share (else one is started for this notebook). The file is never
    changed.
    """
    path = Path(path)
    for arg, value in (("timeout", timeout), ("cell_timeout", cell_timeout), ("check_timeout", check_timeout)):
        validation.positive(value, arg)
    if memory_mb is not None:
        validation.positive_int(memory_mb, "memory_mb")
    isolated = _isolated(sandbox)
    points = check_points(points or {})
    student = student or path.stem
    try:
        chapter = chapter_of(path, chapter)
    except ValueError as err:
        return _row(student, path, None, "grader error", str(err), [])
    source = path.read_bytes() if source is None else source
    try:
        json.loads(source)
    except (UnicodeDecodeError, ValueError) as err:
        return _row(student, path, chapter, "not a notebook", f"the file is not valid JSON ({err})", [], points)
    if server is None:
        with CheckServer(isolated, memory_mb) as own:
            return grade_notebook(path, chapter, source=source, student=student, timeout=timeout,
                                  cell_timeout=cell_timeout, check_timeout=check_timeout, memory_mb=memory_mb,
                                  points=points, sandbox=sandbox, server=own)
    from . import ANSWERS
    exercises = expected_exercises(chapter, points)
    with tempfile.TemporaryDirectory(prefix="qrobust-grade-") as folder:
        work = Path(folder) / "work"
        work.mkdir()
        (work / "submission.ipynb").write_bytes(source)
        request = {"answers": {e: ANSWERS[e] for e, _ in exercises}, "cell_timeout": cell_timeout,
                   "sandbox": isolated}
        (Path(folder) / "request.json").write_text(json.dumps(request))
        read, write = os.pipe()
        command = [sys.executable, notebook_runner.__file__, str(write), folder]
        if isolated:
            command = ["unshare", "-rmnpf", "--kill-child", "--mount-proc"] + command
        env = {**os.environ, "HOME": str(work), "TMPDIR": str(work), "MPLCONFIGDIR": str(work / ".matplotlib"),
               "IPYTHONDIR": str(work / ".ipython"), "JUPYTER_RUNTIME_DIR": str(work / ".jupyter"),
               "XDG_CACHE_HOME": str(work / ".cache"), "PYTHONDONTWRITEBYTECODE": "1"}
        worker = subprocess.Popen(command, cwd=work, env=env, pass_fds=(write,), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, start_new_session=True,
                                  preexec_fn=_limit_memory(memory_mb))
        os.close(write)
        with ThreadPoolExecutor(1) as reader, os.fdopen(read, "rb") as pipe:
            reply = reader.submit(pipe.read)               # read while it runs: a pipe holds 64 KiB
            try:
                _, stderr = worker.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(worker.pid)
                worker.communicate()
                return _row(student, path, chapter, "timeout",
                            f"the notebook ran past its time limit of {timeout:g} s", [], points)
            finally:
                if worker.poll() is None:
                    _kill_tree(worker.pid)
            reply = reply.result()
        try:
            result = json.loads(reply)
        except ValueError:
            tail = plain(stderr.decode(errors="replace")).strip().splitlines()[-3:]
            return _row(student, path, chapter, "grader error",
                        f"the grader's worker ended without a result (exit {worker.returncode}): {' | '.join(tail)}",
                        [], points)
        if result["status"] == "not a notebook":
            return _row(student, path, chapter, result["status"], result["reason"], [], points)
        graded = []
        for exercise, most in exercises:
            name, taken = ANSWERS[exercise], result["answers"].get(exercise)
            if taken == "missing":
                verdict = {"status": "timeout" if result["timed_out"] else "not attempted",
                           "message": f"the notebook defines no `{name}`"
                                      + (" (a cell ran past its time limit)" if result["timed_out"] else "")}
            elif taken == "pickled":
                verdict = server.check(exercise, work / ".answers" / f"{exercise}.pkl", check_timeout)
            elif taken is not None:
                verdict = {"status": "error", "message": f"`{name}` could not be taken out of the notebook ({taken})"}
            else:
                verdict = {"status": "error", "message": f"not graded: {result['reason']}"}
            graded.append({"exercise": exercise, "status": verdict["status"],
                           "points": most if verdict["status"] == "passed" else 0.0, "max_points": most,
                           "message": plain(verdict["message"])})
    return _row(student, path, chapter, result["status"], result["reason"], graded, points)


def grade_batch(paths, chapter: str | None = None, *, jobs: int | None = None, student_pattern: str | None = None,
                progress: bool = True, sandbox: str = "auto", memory_mb: int | None = 4096,
                **options) -> list[dict]:
    """Grade every notebook in ``paths``, ``jobs`` at a time (default: the cores), each with
    :func:`grade_notebook` (``options``) and one :class:`CheckServer`; returns one grade per
    path, in order. Every file is read, and every file name checked (a chapter and a student
    each, no student twice for a chapter), before the first notebook runs."""
    from ..progress import bar

    paths = [Path(p) for p in paths]
    jobs = os.cpu_count() or 1 if jobs is None else validation.positive_int(jobs, "jobs")
    sources = {path: path.read_bytes() for path in paths}
    students = {path: student_of(path, student_pattern) for path in paths}
    seen: dict = {}
    for path in paths:
        seen.setdefault((students[path], chapter_of(path, chapter)), []).append(str(path))
    twice = "; ".join(f"{s} ({c}): {', '.join(v)}" for (s, c), v in seen.items() if len(v) > 1)
    if twice:
        raise ValueError(f"more than one submission for the same student and chapter: {twice}")

    def one(path: Path) -> dict:
        try:
            return grade_notebook(path, chapter, source=sources[path], student=students[path], sandbox=sandbox,
                                  memory_mb=memory_mb, server=server, **options)
        except Exception as err:   # noqa: BLE001  (the grader's own failure is one row, not the end of the batch)
            return _row(students[path], path, None, "grader error", f"{type(err).__name__}: {err}", [])

    with CheckServer(_isolated(sandbox), memory_mb) as server, ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(bar(pool.map(one, paths), progress, total=len(paths), desc="grading"))


def write_csv(grades: list[dict], path: str | Path) -> Path:
    """One row per submission: student, file, chapter, status, total, max_points, percent, the
    points of each exercise, reason."""
    path = Path(path)
    exercises = list(dict.fromkeys(e["exercise"] for g in grades for e in g["exercises"]))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "file", "chapter", "status", "total", "max_points", "percent", *exercises, "reason"])
        for g in grades:
            got = {e["exercise"]: e["points"] for e in g["exercises"]}
            writer.writerow([g["student"], g["file"], g["chapter"] or "", g["status"], g["total"], g["max_points"],
                             g["percent"], *(got.get(e, "") for e in exercises), g["reason"]])
    return path


def write_long_csv(grades: list[dict], path: str | Path) -> Path:
    """One row per (submission, exercise): student, chapter, exercise, status, points,
    max_points, message."""
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "chapter", "exercise", "status", "points", "max_points", "message"])
        for g in grades:
            for e in g["exercises"]:
                writer.writerow([g["student"], g["chapter"], e["exercise"], e["status"], e["points"],
                                 e["max_points"], plain(e["message"])])
    return path
