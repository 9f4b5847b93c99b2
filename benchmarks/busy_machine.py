"""Benchmark: the training step on a quiet machine and on one whose cores other programs share.

    .venv/bin/python benchmarks/busy_machine.py            # about 3 minutes here
    .venv/bin/python benchmarks/busy_machine.py --quick    # about 1 minute

A learner's CPU is rarely quiet (Colab's cores are shared; the book's build runs notebooks side
by side). For each method (the fast path, ``default.qubit``) and each torch intra-op thread count
(1; torch's default, one per core; and the count the training loop chooses for the load,
``backend.threads_for_load``), this times the training step of ``fast_path.py`` (batch
256) at 4-10 qubits twice: quiet, then with a fixed load beside it, one busy process per core
(a tight Python loop each, started before and stopped after the timing). Each measurement runs in
a process of its own. It prints samples/s and the busy/quiet ratio side by side: a method that
keeps its speed when the cores are shared has a ratio near 1 / (1 + load per core), about 0.5.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = """
import json, sys, torch
from qrobust_lite.course import performance as pf
from qrobust_lite import backend
method, n, threads, min_time = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
if threads > 0:
    torch.set_num_threads(threads)
elif threads < 0:  # what the training loop does: backend.load_aware_threads
    torch.set_num_threads(backend.threads_for_load())
step = pf.training_step(method, n, 256)
print(json.dumps({"rate": pf.samples_per_second(step, 256, min_time=min_time), "threads": torch.get_num_threads()}))
"""


def spin(stop) -> None:
    """A busy core: a tight loop until ``stop`` is set."""
    while not stop.is_set():
        sum(range(1000))


def measure(method: str, n: int, threads: int, min_time: float) -> dict:
    """One timing in a fresh process (``threads`` 0: torch's default; -1: chosen for the load,
    as the training loop chooses)."""
    done = subprocess.run(
        [sys.executable, "-c", WORKER, method, str(n), str(threads), str(min_time)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 and 8 qubits only, shorter timings")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    qubits, min_time = ((4, 8), 0.5) if args.quick else ((4, 6, 8, 10), 1.0)
    cores = os.cpu_count() or 1
    rows = []
    for method in ("qrobust_lite", "default.qubit"):
        for threads in (1, 0, -1):
            for n in qubits:
                quiet = measure(method, n, threads, min_time)
                stop = mp.Event()
                load = [mp.Process(target=spin, args=(stop,), daemon=True) for _ in range(cores)]
                for p in load:
                    p.start()
                try:
                    busy = measure(method, n, threads, min_time)
                finally:
                    stop.set()
                    for p in load:
                        p.join()
                mode = {1: "1 thread", 0: "default", -1: "for the load"}[threads]
                rows.append(
                    {
                        "method": method,
                        "threads": mode,
                        "qubits": n,
                        "quiet": quiet["rate"],
                        "busy": busy["rate"],
                        "threads_quiet": quiet["threads"],
                        "threads_busy": busy["threads"],
                    }
                )
                r = rows[-1]
                print(
                    f"{method:>14}  {mode:>12} ({quiet['threads']}/{busy['threads']})  {n:>2} qubits: quiet "
                    f"{r['quiet']:>9,.0f}  busy {r['busy']:>9,.0f}  busy/quiet {r['busy'] / r['quiet']:.2f}",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps({"cores": cores, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
