"""The grader's checker server (book: *For instructors*, section *Grading*), started by
:class:`qrobust_lite.exercises.grading.CheckServer` as
``python -m qrobust_lite.exercises.check_server SCRATCH sandbox|plain``.

It imports the checkers before any answer exists, then checks each pickled answer in a forked
copy of itself, so an answer that changes what it finds changes only that copy.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from . import notebook_runner
from .checking import NOT_ATTEMPTED

def check_in_fork(exercise: str, answer_file: Path, timeout: float) -> dict:
    """Run the pristine checker of ``exercise`` on the pickled answer, in a forked copy of this
    process (the checker server, which imported the checkers before any learner code existed)."""
    import pickle
    import select

    import numpy
    import torch

    from . import CHECKERS, check, checking

    def functions() -> dict[str, int]:
        """The identity of every function the checks rely on: NumPy's, torch's, the checkers'."""
        found = {f"{m.__name__}.{k}": id(v) for m in (numpy, torch, checking) for k, v in vars(m).items()
                 if callable(v)}
        return {**found, **{f"checkers.{k}": id(v) for k, v in CHECKERS.items()}}

    watched = functions()
    nonce = secrets.token_hex(16)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                    # the fork: learner code may run from here on
        os.close(read)
        quiet = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):                        # the server's pipes are not the answer's to use
            os.dup2(quiet, fd)
        try:
            import random
            random.seed(0)
            numpy.random.seed(0)
            torch.manual_seed(0)
            feedback = check(exercise, pickle.loads(answer_file.read_bytes()))
            changed = [k for k, v in functions().items() if watched.get(k, v) != v]
            if changed:
                out = {"status": "error", "message": f"the answer changed the grader's functions {changed[:3]}"}
            else:
                not_yet = feedback.message.startswith(NOT_ATTEMPTED)
                out = {"status": "passed" if feedback.passed else "not attempted" if not_yet else "failed",
                       "message": feedback.message}
        except BaseException as err:                 # noqa: BLE001  (whatever the answer does, report it)
            out = {"status": "error", "message": f"the answer could not be checked: {type(err).__name__}: {err}"}
        os.write(write, json.dumps({"nonce": nonce, **out}).encode())
        os._exit(0)
    os.close(write)
    deadline, chunks = time.monotonic() + timeout, []
    while True:
        ready, _, _ = select.select([read], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read)
            return {"status": "timeout", "message": f"the check ran past its time limit of {timeout:g} s"}
        chunk = os.read(read, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError:
        return {"status": "error", "message": "the check ended without a verdict (the answer ended its process)"}
    if reply.pop("nonce", None) != nonce:
        return {"status": "error", "message": "the check's verdict was not the grader's"}
    return reply


def serve(scratch: Path, sandboxed: bool) -> None:
    """Import the checkers, then answer one JSON request per line on stdin,
    ``{"exercise", "answer", "timeout"}``, with a verdict per line on stdout."""
    if sandboxed:
        notebook_runner.sandbox(scratch, loopback=False)
    from . import CHECKERS  # noqa: F401  (imported now, before any answer is loaded)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        verdict = check_in_fork(request["exercise"], Path(request["answer"]), request["timeout"])
        sys.stdout.write(json.dumps(verdict) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":             # python -m qrobust_lite.exercises.check_server SCRATCH sandbox|plain
    serve(Path(sys.argv[1]), sys.argv[2] == "sandbox")
