"""How a grid of runs scales with workers: the same poisoning grid on 1 and 2 workers, side by side.

    .venv/bin/python benchmarks/grid_scaling.py                    # a local Dask cluster and joblib threads
    .venv/bin/python benchmarks/grid_scaling.py --runs 40 --workers 1 2 4
    .venv/bin/python benchmarks/grid_scaling.py --scheduler tcp://HOST:8786   # a real cluster

Prints, per executor and worker count, the grid's wall time (worker start-up excluded), the
speed-up over one worker and the efficiency (speed-up / workers), and for Dask the memory of
each worker process after the grid. No cache: every run is computed. With ``--scheduler`` the
cluster's own workers are used as they are (``--workers`` is ignored) and the speed-up is taken
against one local thread.
"""

from __future__ import annotations

import argparse
import os
import time

import psutil

from qrobust_lite import experiments, poisoning


def grid(n_runs: int) -> list[poisoning.PoisoningRun]:
    """``n_runs`` default-scale MNIST QNN runs (about 1.6 s each on one core here)."""
    configs = poisoning.grid("default", datasets=["mnist"], models=["QNN"])
    return (configs * (n_runs // len(configs) + 1))[:n_runs]


def timed(configs, **options) -> float:
    start = time.perf_counter()
    experiments.run_grid(configs, poisoning.run, progress=False, **options)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scheduler", help="address of a running Dask scheduler")
    args = parser.parse_args()
    configs = grid(args.runs)
    poisoning.load_pair(configs[0])  # the data, loaded once before timing
    print(f"{args.runs} poisoning runs (MNIST, QNN, default scale); {os.cpu_count()} cores here")
    print(f"{'executor':<16}{'workers':>8}{'seconds':>9}{'speed-up':>10}{'efficiency':>11}{'MiB/worker':>12}")
    base = timed(configs, n_jobs=1)
    print(f"{'one thread':<16}{1:>8}{base:>9.1f}{1.0:>10.2f}{1.0:>11.2f}{'':>12}")
    for n in args.workers:
        seconds = timed(configs, n_jobs=n)
        print(f"{'joblib threads':<16}{n:>8}{seconds:>9.1f}{base / seconds:>10.2f}{base / seconds / n:>11.2f}{'':>12}")
    for n in [None] if args.scheduler else args.workers:
        with experiments.dask_client(args.scheduler, workers=n or 1) as client:
            client.run(poisoning.load_pair, configs[0])  # start-up and data, untimed
            seconds = timed(configs, executor="dask", client=client)
            workers = len(client.scheduler_info()["workers"])
            rss = client.run(lambda: psutil.Process().memory_info().rss / 2**20)
        mib = sum(rss.values()) / len(rss)
        print(
            f"{'dask':<16}{workers:>8}{seconds:>9.1f}{base / seconds:>10.2f}"
            f"{base / seconds / workers:>11.2f}{mib:>12.0f}"
        )


if __name__ == "__main__":
    main()
