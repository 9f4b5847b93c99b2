"""Grading learners' notebooks: the grade bookkeeping (book: *For instructors*, section
*Grading*; command: ``qrobust-lite grade``).

The course, not the submission, defines what is graded, as in otter-grader and nbgrader: a
chapter's exercises are the checkers registered for it (``qrobust_lite.exercises.CHAPTERS``),
each with the name of the answer a learner defines (:data:`~qrobust_lite.exercises.checking.ANSWERS`)
and its points (its level, :data:`~qrobust_lite.exercises.checking.LEVELS`, unless the
instructor gives others). A learner's notebook only supplies answers, and no learner code ever
runs in the grader's process:

1. Every submission is read into memory, and every file name checked, before any learner code
   runs, so no submission can change another one's file.
2. Each submission gets a folder of its own and a **worker**
   (:mod:`~qrobust_lite.exercises.notebook_runner`) that runs its code cells in a fresh kernel:
   stored outputs and cell tags are ignored, an error in one cell does not stop the others, and
   each cell has a timeout. After the learner's cells the kernel runs each exercise's **call
   step** on the checker's cases (:mod:`~qrobust_lite.exercises.cases`), with a timeout per
   exercise, and hands back plain data: JSON, arrays as raw numbers, a format that holds no code.
   Where Linux allows it the worker and everything it starts run in a **sandbox**
   (:mod:`~qrobust_lite.exercises.sandbox`); elsewhere only the folder and the process group are
   the learner's own.
3. The grader reads that reply within the notebook's time limit and a size limit, checks that it
   answers this request (a secret drawn for each submission), and **judges** every answer itself,
   against the references, with the checkers' judges. A reply is a
   claim, not a verdict: to pass, the learner's side must hand back the right results. What a
   judge observes of the call's behaviour (a QNode call count, an argument changed in place) is
   the learner's side's own report, and could be forged from inside.

Each exercise gets a status (:data:`EXERCISE_STATUSES`), its points and the checker's message;
a submission that cannot be graded (not JSON, not a notebook, a kernel that died, the
notebook's time limit) gets a row with the reason, and the batch always finishes; an interrupt
(Ctrl-C) stops it and every worker at once.

>>> [e for e, _ in expected_exercises("primer")]
['primer-born-rule', 'primer-batched-expval']
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import validation
from ..validation import (
    COUNT,
    POSITIVE,
    TEXT,
    Anything,
    Bool,
    FilePath,
    Instance,
    Optional,
    Options,
    Sequence_,
    validate_params,
)
from . import cases, notebook_runner
from .sandbox import available as sandbox_available
from .sandbox import kill_tree, popen

#: What an exercise's grade can be.
EXERCISE_STATUSES = ("passed", "failed", "not attempted", "error", "timeout")
#: What a submission's grade can be ("graded" means its exercises were checked, whatever their scores).
SUBMISSION_STATUSES = ("graded", "not a notebook", "kernel died", "timeout", "grader error")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_REPLY_LIMIT = 16 * 2**20  # bytes of a worker's reply: the largest honest one is about 2 MB
_AFTER_EXIT = 2.0  # seconds to wait for the rest of a reply once the worker has ended
_MESSAGE_LIMIT = 1000  # characters of a message in a grade


SANDBOX = Options("auto", "required", "off")
GRADES = Sequence_(Instance(dict, "a grade as grade_notebook returns it"), min_len=0)


@validate_params(text=TEXT)
def plain(text: str) -> str:
    """``text`` without terminal colour codes (what an LMS can show)."""
    return _ANSI.sub("", text)


@validate_params(chapter=TEXT, points=Optional(Instance(dict, "a dict {exercise: points}")))
def expected_exercises(chapter: str, points: dict[str, float] | None = None) -> list[tuple[str, float]]:
    """``[(exercise, points)]`` of ``chapter`` (a notebook name such as ``"primer"``), in the
    chapter's order; points are the exercise's level unless ``points`` gives them."""
    from . import CHAPTERS, LEVELS

    chapters = sorted(set(CHAPTERS.values()))
    if chapter not in chapters:
        raise ValueError(f"chapter must be one of {chapters}, got {chapter!r}")
    points = points or {}
    return [(e, float(points.get(e, LEVELS[e]))) for e, c in CHAPTERS.items() if c == chapter]


@validate_params(points=Instance(dict, "a dict {exercise: points}"))
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


@validate_params(path=FilePath(), chapter=Optional(TEXT))
def chapter_of(path: Path, chapter: str | None = None) -> str:
    """The chapter a submission answers: ``chapter`` when given, else the chapter whose notebook
    name is in the file name (the longest, so ``alice_primer.ipynb`` is ``"primer"``)."""
    from . import CHAPTERS

    if chapter is not None:
        expected_exercises(chapter)  # names the allowed chapters if it is not one
        return chapter
    found = sorted((c for c in set(CHAPTERS.values()) if c in path.name), key=len)
    if not found:
        raise ValueError(
            f"cannot tell which chapter {path.name} answers: its name contains no chapter's "
            f"notebook name ({sorted(set(CHAPTERS.values()))}); pass --chapter"
        )
    return found[-1]


@validate_params(path=FilePath(), pattern=Optional(TEXT))
def student_of(path: Path, pattern: str | None = None) -> str:
    """The student id: the file name without ``.ipynb``, or the ``student`` group of
    ``pattern`` (a regular expression matched against the file name)."""
    if pattern is None:
        return path.stem
    match = re.search(pattern, path.name)
    if match is None or "student" not in match.groupdict():
        raise ValueError(
            f"file name {path.name!r} does not match --student-pattern {pattern!r} "
            "(it needs a group named student, e.g. '(?P<student>[^_]+)_')"
        )
    return match.group("student")


def _row(
    student: str,
    path: Path,
    chapter: str | None,
    status: str,
    reason: str,
    exercises: list[dict],
    points: dict[str, float] | None = None,
) -> dict:
    """One submission's grade, with ``total``, ``max_points`` and ``percent``."""
    if not exercises and chapter is not None:
        exercises = [
            {
                "exercise": e,
                "status": "error" if status != "timeout" else "timeout",
                "points": 0.0,
                "max_points": p,
                "message": reason,
            }
            for e, p in expected_exercises(chapter, points)
        ]
    total = sum(e["points"] for e in exercises)
    most = sum(e["max_points"] for e in exercises)
    return {
        "student": student,
        "file": str(path),
        "chapter": chapter,
        "status": status,
        "reason": _short(reason),
        "exercises": exercises,
        "total": total,
        "max_points": most,
        "percent": round(100 * total / most, 2) if most else 0.0,
    }


def _short(text: str) -> str:
    text = plain(text)
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + " [...]"


@dataclass(frozen=True)
class _Settings:
    """The limits of a grading run, checked before any notebook runs."""

    timeout: float = 600
    cell_timeout: float = 120
    check_timeout: float = 60
    memory_mb: int | None = 4096
    points: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for arg in ("timeout", "cell_timeout", "check_timeout"):
            validation.positive(getattr(self, arg), arg)
        if self.memory_mb is not None:
            validation.positive_int(self.memory_mb, "memory_mb")
        object.__setattr__(self, "points", check_points(self.points or {}))


class _Batch:
    """What the submissions of one run share: a folder with one folder per submission inside,
    the isolation, the files hidden from every sandbox, and the signal that stops them all."""

    def __init__(self, sandbox_mode: str, paths: list[Path]) -> None:
        if sandbox_mode not in ("auto", "required", "off"):
            raise ValueError(f"sandbox must be 'auto', 'required' or 'off', got {sandbox_mode!r}")
        self.isolated = sandbox_mode != "off" and sandbox_available()
        if sandbox_mode == "required" and not self.isolated:
            raise RuntimeError(
                "sandbox='required' but unshare cannot make user, mount, PID and network namespaces here"
            )
        self.hide = [p.resolve() for p in paths]
        self.stop = threading.Event()
        self.folder = Path(tempfile.mkdtemp(prefix="qrobust-grade-"))
        os.chmod(self.folder, 0o711)  # a sandbox may pass through to its own folder, not list the others

    def __enter__(self) -> "_Batch":
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@validate_params(
    path=FilePath(),
    chapter=Optional(TEXT),
    source=Optional(Instance(bytes, "bytes")),
    student=Optional(TEXT),
    timeout=POSITIVE,
    cell_timeout=POSITIVE,
    check_timeout=POSITIVE,
    memory_mb=Optional(COUNT),
    points=Optional(Instance(dict, "a dict {exercise: points}")),
    sandbox=SANDBOX,
)
def grade_notebook(
    path: str | Path,
    chapter: str | None = None,
    *,
    source: bytes | None = None,
    student: str | None = None,
    timeout: float = 600,
    cell_timeout: float = 120,
    check_timeout: float = 60,
    memory_mb: int | None = 4096,
    points: dict | None = None,
    sandbox: str = "auto",
) -> dict:
    """Grade one submission: ``{"student", "file", "chapter", "status", "reason", "exercises":
    [{"exercise", "status", "points", "max_points", "message"}], "total", "max_points", "percent"}``.

    ``timeout``: seconds for the whole notebook, ``cell_timeout`` per cell, ``check_timeout``
    per exercise's call step; ``memory_mb``: the address-space limit of the notebook (None:
    none); ``sandbox``: ``"auto"`` (where available), ``"required"`` (refuse without) or
    ``"off"``. ``source``: the file's bytes, read earlier. The file is never changed.
    """
    path = Path(path)
    settings = _Settings(timeout, cell_timeout, check_timeout, memory_mb, points or {})
    source = path.read_bytes() if source is None else source
    with _Batch(sandbox, [path]) as batch:
        return _grade(path, chapter, source, student or path.stem, settings, batch)


@validate_params(
    paths=Sequence_(FilePath()),
    chapter=Optional(TEXT),
    jobs=Optional(COUNT),
    student_pattern=Optional(TEXT),
    progress=Bool(),
    sandbox=SANDBOX,
    memory_mb=Optional(COUNT),
    options=Anything("grade_notebook's limits and points, checked before any notebook runs"),
)
def grade_batch(
    paths,
    chapter: str | None = None,
    *,
    jobs: int | None = None,
    student_pattern: str | None = None,
    progress: bool = True,
    sandbox: str = "auto",
    memory_mb: int | None = 4096,
    **options,
) -> list[dict]:
    """Grade every notebook in ``paths``, ``jobs`` at a time (default: the cores), each as
    :func:`grade_notebook` does (``options``: its limits and ``points``); returns one grade per
    path, in order. Every file is read, and every file name checked (a chapter and a student
    each, no student twice for a chapter), before the first notebook runs. An interrupt ends
    every worker and is raised again."""
    from ..progress import bar

    paths = [Path(p) for p in paths]
    jobs = os.cpu_count() or 1 if jobs is None else jobs
    settings = _Settings(memory_mb=memory_mb, **options)
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
            return _grade(path, chapter, sources[path], students[path], settings, batch)
        except Exception as err:  # the grader's own failure is one row, not the end of the batch
            return _row(students[path], path, None, "grader error", f"{type(err).__name__}: {err}", [])

    with _Batch(sandbox, paths) as batch, ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(one, path) for path in paths]
        try:
            return list(bar((f.result() for f in futures), progress, total=len(paths), desc="grading"))
        except BaseException:
            batch.stop.set()  # every running worker is ended within a fraction of a second
            for future in futures:
                future.cancel()
            raise


def _grade(path: Path, chapter: str | None, source: bytes, student: str, settings: _Settings, batch: _Batch) -> dict:
    """One submission's grade (see :func:`grade_notebook`)."""
    try:
        chapter = chapter_of(path, chapter)
    except ValueError as err:
        return _row(student, path, None, "grader error", str(err), [])
    points = settings.points
    try:
        json.loads(source)
    except (UnicodeDecodeError, ValueError) as err:
        return _row(student, path, chapter, "not a notebook", f"the file is not valid JSON ({err})", [], points)
    exercises = expected_exercises(chapter, points)
    result = _run(source, [e for e, _ in exercises], settings, batch)
    if result["status"] != "graded" and not result.get("exercises"):
        return _row(student, path, chapter, result["status"], result["reason"], [], points)
    graded = []
    for exercise, most in exercises:
        status, message = _judge(exercise, result, settings)
        graded.append(
            {
                "exercise": exercise,
                "status": status,
                "points": most if status == "passed" else 0.0,
                "max_points": most,
                "message": _short(message),
            }
        )
    return _row(student, path, chapter, result["status"], result["reason"], graded, points)


def _run(source: bytes, exercises: list[str], settings: _Settings, batch: _Batch) -> dict:
    """Run the submission and its call steps in a worker of its own; returns the worker's reply,
    checked to answer this request: ``{"status", "reason", "timed_out", "exercises"}``."""
    from .checking import ANSWERS, CASES, SIGNATURES

    folder = Path(tempfile.mkdtemp(dir=batch.folder))
    try:
        folder.chmod(0o755)
        (folder / "work").mkdir()
        (folder / "cases").mkdir()
        (folder / "submission.ipynb").write_bytes(source)
        nonce = secrets.token_hex(16)
        request = {
            "nonce": nonce,
            "cell_timeout": settings.cell_timeout,
            "check_timeout": settings.check_timeout,
            "exercises": {e: [ANSWERS[e], e in SIGNATURES] for e in exercises},
        }
        (folder / "request.json").write_text(json.dumps(request))
        for exercise in exercises:
            (folder / "cases" / f"{exercise}.json").write_text(cases.dumps(CASES[exercise]()))
        for item in folder.rglob("*"):  # readable by a sandbox that runs as another user
            item.chmod(0o755 if item.is_dir() else 0o644)
        read, write = os.pipe()
        try:
            worker = popen(
                [sys.executable, notebook_runner.__file__, str(folder), str(write)],
                folder / "work",
                isolated=batch.isolated,
                hide=batch.hide,
                memory_mb=settings.memory_mb,
                pass_fds=(write,),
                stderr=subprocess.PIPE,
            )
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        reply, tail, why = _collect(worker, read, settings.timeout, batch.stop)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if why == "timeout":
        return {"status": "timeout", "reason": f"the notebook ran past its time limit of {settings.timeout:g} s"}
    if why:
        return {"status": "grader error", "reason": why}
    try:
        result = json.loads(reply)
    except ValueError:
        lines = plain(tail).strip().splitlines()[-3:]
        return {
            "status": "grader error",
            "reason": f"the grader's worker ended without a result (exit {worker.returncode}): {' | '.join(lines)}",
        }
    if not (
        isinstance(result, dict)
        and secrets.compare_digest(str(result.get("nonce")), nonce)
        and result.get("status") in ("graded", "not a notebook", "kernel died")
        and isinstance(result.get("reason"), str)
        and isinstance(result.get("exercises", {}), dict)
    ):
        return {"status": "grader error", "reason": "the worker's reply does not answer this grader's request"}
    return result


def _collect(
    worker: subprocess.Popen, result_fd: int, timeout: float, stop: threading.Event
) -> tuple[bytes, str, str | None]:
    """Read the worker's reply (``result_fd``) and the tail of its stderr until it ends, its
    time is up, its reply is too large or the batch stops: ``(reply, stderr tail, why not)``.
    Every read waits at most a fraction of a second; the worker's processes are ended after."""
    assert worker.stderr is not None
    deadline, ended = time.monotonic() + timeout, None
    reply, tail = bytearray(), ""
    streams = {result_fd: "reply", worker.stderr.fileno(): "stderr"}
    why = None
    try:
        while streams and why is None:
            now = time.monotonic()
            if worker.poll() is not None:
                ended = ended or now
            if stop.is_set():
                why = "grading was interrupted"
            elif now >= deadline:
                why = "timeout"
            elif ended is not None and now - ended > _AFTER_EXIT:
                break  # a stray holder of the pipes: stop listening
            else:
                ready, _, _ = select.select(list(streams), [], [], min(deadline - now, 0.2))
                for fd in ready:
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        del streams[fd]
                    elif streams[fd] == "reply":
                        reply += chunk
                        if len(reply) > _REPLY_LIMIT:
                            why = f"the worker's reply is larger than {_REPLY_LIMIT // 2**20} MiB"
                    else:
                        tail = (tail + chunk.decode(errors="replace"))[-4000:]
        if why is None:
            try:
                worker.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                why = "timeout"
    finally:
        kill_tree(worker.pid)
        worker.wait()
        worker.stderr.close()
        os.close(result_fd)
    return bytes(reply), tail, why


def _judge(exercise: str, result: dict, settings: _Settings) -> tuple[str, str]:
    """``(status, message)`` of one exercise, from the worker's reply; the judge is the checker's."""
    from .checking import ANSWERS, NOT_ATTEMPTED, _verdict

    name = ANSWERS[exercise]
    entry = result.get("exercises", {}).get(exercise)
    state = entry.get("state") if isinstance(entry, dict) else None
    if result["status"] != "graded" and state != "answered":
        return "error", f"not graded: {result['reason']}"
    if state == "timeout":
        return "timeout", f"the check ran past its time limit of {settings.check_timeout:g} s"
    if state == "died":
        return "error", (
            f"the notebook's kernel died while `{name}` was checked (the code ended its process, or ran out of memory)"
        )
    if state == "lost":
        return "error", f"`{name}` could not be checked: {entry.get('why')}"
    try:
        outcome = cases.loads(entry["text"]) if state == "answered" else None
        if not isinstance(outcome, dict):
            raise ValueError("no outcome")
        if outcome.get("state") == "missing":
            timed_out = bool(result.get("timed_out"))
            return (
                "timeout" if timed_out else "not attempted",
                f"the notebook defines no `{name}`" + (" (a cell ran past its time limit)" if timed_out else ""),
            )
        feedback = _verdict(exercise, outcome)
    except Exception as err:  # whatever came back, it is one exercise's error
        return "error", f"what came back of `{name}` is not the grader's format ({type(err).__name__})"
    if feedback.passed:
        return "passed", feedback.message
    return "not attempted" if feedback.message.startswith(NOT_ATTEMPTED) else "failed", feedback.message


@validate_params(grades=GRADES, path=FilePath())
def write_csv(grades: list[dict], path: str | Path) -> Path:
    """One row per submission: student, file, chapter, status, total, max_points, percent, the
    points of each exercise, reason."""
    path = Path(path)
    exercises = list(dict.fromkeys(e["exercise"] for g in grades for e in g["exercises"]))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["student", "file", "chapter", "status", "total", "max_points", "percent", *exercises, "reason"]
        )
        for g in grades:
            got = {e["exercise"]: e["points"] for e in g["exercises"]}
            writer.writerow(
                [
                    g["student"],
                    g["file"],
                    g["chapter"] or "",
                    g["status"],
                    g["total"],
                    g["max_points"],
                    g["percent"],
                    *(got.get(e, "") for e in exercises),
                    g["reason"],
                ]
            )
    return path


@validate_params(grades=GRADES, path=FilePath())
def write_long_csv(grades: list[dict], path: str | Path) -> Path:
    """One row per (submission, exercise): student, chapter, exercise, status, points,
    max_points, message."""
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "chapter", "exercise", "status", "points", "max_points", "message"])
        for g in grades:
            for e in g["exercises"]:
                writer.writerow(
                    [
                        g["student"],
                        g["chapter"],
                        e["exercise"],
                        e["status"],
                        e["points"],
                        e["max_points"],
                        plain(e["message"]),
                    ]
                )
    return path
