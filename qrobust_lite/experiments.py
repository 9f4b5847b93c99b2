"""Experiments: a grid of independent runs, cached on disk and run in parallel (book: Part III,
*Label-flip poisoning*, section *The sweep*; the ``qrobust-lite run`` commands).

A **run** is a frozen config (a dataclass) and a function of it that returns plain data (a
dict of numbers, lists and strings). A **grid** is a list of configs. :func:`run_grid` returns
every run's result, in the grid's order, with a progress bar:

- results already in the :class:`ResultCache` are read, not recomputed;
- the rest run in parallel through joblib: threads by default (one copy of torch and
  PennyLane in memory, each run on one core), processes with ``prefer="processes"``.

The cache can be trusted:

- a result's **key** hashes the whole config, a fingerprint of the data the run actually
  loads (:func:`fingerprint`: change ``$QROBUST_DATA`` and the key changes), and
  :data:`CODE_VERSION`;
- files are written **atomically** (a temporary file, then ``os.replace``), so another process
  reading the cache never sees half a file;
- a stored file names the config it answers; a file that cannot be read, or answers another
  config, is **named in a warning and recomputed**, never served;
- a folder that cannot be written **warns once** and every result is still returned.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Square:
...     x: int
>>> run_grid([Square(2), Square(3)], lambda c: {"y": c.x ** 2}, progress=False)
[{'y': 4}, {'y': 9}]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from . import data, validation
from .progress import bar

#: Part of every cache key. Bump it when the code behind a run changes its result.
CODE_VERSION = 4


def fingerprint(*arrays: torch.Tensor | np.ndarray) -> str:
    """A short content hash of arrays (their shapes, dtypes and bytes): the data a run used.

    >>> fingerprint(torch.zeros(3)) == fingerprint(torch.zeros(3)), fingerprint(torch.zeros(3)) == fingerprint(torch.ones(3))
    (True, False)
    """
    digest = hashlib.sha256()
    for array in arrays:
        a = np.ascontiguousarray(array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else array)
        digest.update(f"{a.shape}{a.dtype}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()[:16]


def _plain(config) -> dict:
    """The config as JSON would give it back (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), sort_keys=True))


def config_key(config, data_fingerprint: str = "") -> str:
    """The cache key of a run: a hash of the whole config, the data fingerprint and
    :data:`CODE_VERSION`. Any change to any of them gives a new key."""
    payload = json.dumps({"config": _plain(config), "data": data_fingerprint, "code": CODE_VERSION},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def default_cache(name: str) -> Path:
    """``<user cache>/qrobust-lite/<name>``: where an experiment keeps its results by default."""
    return data.cache_dir().parent / name


@dataclasses.dataclass
class ResultCache:
    """One JSON file per run, ``<key>.json``, holding ``{"key", "config", "result"}``.

    ``hits``: results read; ``misses``: results computed; ``rejected``: files that could not be
    read or answered another config (warned about, recomputed).
    """

    folder: str | Path
    hits: int = 0
    misses: int = 0
    rejected: int = 0
    unwritable: bool = False

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str, config) -> dict | None:
        """The stored result of ``config`` under ``key``, or None (absent, unreadable or foreign)."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            stored = json.loads(path.read_text())
            if not isinstance(stored, dict) or stored.get("key") != key or stored.get("config") != _plain(config):
                raise ValueError("it answers another configuration")
            if not isinstance(stored.get("result"), dict):
                raise ValueError("it holds no result")
        except (OSError, ValueError) as err:   # JSONDecodeError is a ValueError
            warnings.warn(f"cache file {path} is unusable ({err}); recomputing that run", stacklevel=3)
            self.rejected += 1
            return None
        return stored["result"]

    def store(self, key: str, config, result: dict) -> None:
        """Write atomically; on a folder that cannot be written, warn once and go on."""
        if self.unwritable:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self.folder, suffix=".tmp", delete=False) as f:
                json.dump({"key": key, "config": _plain(config), "result": result}, f)
            os.replace(f.name, self.path(key))
        except OSError as err:
            self.unwritable = True
            warnings.warn(f"cannot write results to the cache folder {self.folder} ({err}); "
                          "results are returned but not kept", stacklevel=3)
            if "f" in locals() and os.path.exists(f.name):
                os.unlink(f.name)


class _WithThreads:
    """``run`` with torch and the BLAS libraries behind NumPy (threadpoolctl) on ``threads``
    threads. Their results depend on the thread count (sums are split differently), and a Dask
    worker starts with one BLAS thread, so every executor runs a grid at the same count and
    gives the same results. Picklable, for process and cluster workers."""

    def __init__(self, run: Callable[[Any], dict], threads: int) -> None:
        self.run, self.threads = run, threads

    def __call__(self, config) -> dict:
        torch.set_num_threads(self.threads)
        with threadpool_limits(limits=self.threads):
            return self.run(config)


def dask_client(scheduler: str | None = None, workers: int = 2, processes: bool = True):
    """A ``dask.distributed.Client``: connected to ``scheduler`` (``"tcp://host:8786"``), or to a
    ``LocalCluster`` of ``workers`` single-threaded workers on this machine (loopback only):
    processes, or with ``processes=False`` threads of this process (no start-up cost: each
    worker process imports torch and PennyLane again, about 500 MB and seconds of CPU).

    Needs the ``cluster`` extra: ``pip install "qrobust-lite[cluster]"``. Close it when done
    (``with dask_client() as client:``); a cluster it started closes with it.
    """
    try:
        from distributed import Client
    except ImportError as err:
        raise ImportError('the dask executor needs dask and distributed: pip install "qrobust-lite[cluster]"') from err
    if scheduler is not None:
        return Client(scheduler)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    # Given no address, Client starts a LocalCluster of its own and closes it with itself.
    # Workers in threads talk in-process; in processes, over TCP on loopback only.
    network = {"host": "127.0.0.1"} if processes else {}
    return Client(n_workers=workers, threads_per_worker=1, processes=processes,
                  dashboard_address="127.0.0.1:0", **network)


def dashboard_link(client) -> str | None:
    """The address of a cluster's Dask dashboard (None without one). A cluster started here
    listens on loopback, whatever ``client.dashboard_link`` says; its pages need ``bokeh``."""
    port = client.scheduler_info().get("services", {}).get("dashboard")
    if port is None:
        return None
    return f"http://127.0.0.1:{port}/status" if client.cluster is not None else client.dashboard_link


def run_grid(configs: Sequence, run: Callable[[Any], dict], *, key: Callable[[Any], str] = config_key,
             cache: ResultCache | str | Path | None = None, executor: str = "local", n_jobs: int = 2,
             prefer: str = "threads", client=None, threads: int | None = None, progress: bool = True,
             desc: str = "runs") -> list[dict]:
    """``[run(c) for c in configs]``, cached and in parallel; results in the grid's order.

    ``key(config)``: the cache key (default :func:`config_key` without a data fingerprint; pass
    the experiment's own key when its data can vary). Each result is stored as soon as it
    arrives, so an interrupted grid resumes where it stopped.

    ``executor="local"``: joblib on this machine, ``n_jobs`` workers (-1: all cores),
    ``prefer`` ``"threads"`` (default: one copy of torch and PennyLane; each process needs about
    450 MB more) or ``"processes"``. ``executor="dask"``: the workers of ``client`` (a
    ``dask.distributed.Client``, see :func:`dask_client`; by default a ``LocalCluster`` of
    ``n_jobs`` workers, closed at the end).

    ``threads``: torch threads per run. By default one (the workers are the parallelism, and
    more threads than cores slow every run: a poisoning run takes 1.65 s on one thread and
    1.53 s on two), except for one local job at a time, which keeps this process's threads.
    Seeds come from the configs, and torch's results depend only on its thread count, so
    every executor at the same ``threads`` gives the same results.
    """
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all cores), got {n_jobs!r}")
    if prefer not in ("threads", "processes"):
        raise ValueError(f"prefer must be 'threads' or 'processes', got {prefer!r}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {list(EXECUTORS)}, got {executor!r}")
    if threads is None:
        threads = torch.get_num_threads() if executor == "local" and n_jobs == 1 else 1
    validation.positive_int(threads, "threads")
    if isinstance(cache, (str, Path)):
        cache = ResultCache(cache)
    keys = [key(c) for c in configs] if cache is not None else [None] * len(configs)
    results: list[dict | None] = [None] * len(configs)
    todo = []
    for i, config in enumerate(configs):
        results[i] = cache.load(keys[i], config) if cache is not None else None
        if results[i] is None:
            todo.append(i)
    if cache is not None:
        cache.hits += len(configs) - len(todo)
        cache.misses += len(todo)
    if not todo:
        return results
    for i, result in bar(EXECUTORS[executor](_WithThreads(run, threads), [configs[i] for i in todo], todo,
                                             n_jobs=n_jobs, prefer=prefer, client=client),
                         progress, total=len(todo), desc=desc):
        results[i] = result
        if cache is not None:
            cache.store(keys[i], configs[i], result)
    return results


def _local(run, configs, indices, *, n_jobs, prefer, client):
    """(index, result) pairs in order, from joblib workers on this machine."""
    threads = torch.get_num_threads()
    try:
        jobs = Parallel(n_jobs=n_jobs, prefer=prefer, return_as="generator")(delayed(run)(c) for c in configs)
        yield from zip(indices, jobs)
    finally:
        torch.set_num_threads(threads)     # thread workers set it in this process


def _dask(run, configs, indices, *, n_jobs, prefer, client):
    """(index, result) pairs as they complete, from the workers of a Dask cluster."""
    from distributed import as_completed

    own = client is None
    client = dask_client(workers=os.cpu_count() if n_jobs == -1 else n_jobs) if own else client
    try:
        futures = client.map(run, configs, pure=False)
        where = {future.key: i for future, i in zip(futures, indices)}
        for future, result in as_completed(futures, with_results=True):
            yield where[future.key], result
    finally:
        if own:
            client.close()


EXECUTORS = {"local": _local, "dask": _dask}
