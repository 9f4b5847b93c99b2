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
- a folder that cannot be written **warns once** and every result is still returned;
- a result is made **JSON-plain** before it is counted (NumPy scalars and arrays, tensors:
  converted exactly, by ``.item()``/``.tolist()``; anything else refused by name), so a
  cached result equals a fresh one.

A grid is run **once per distinct config** (duplicates share the result), and a run that
raises does not stop the others: every other result is kept and cached, then
:class:`GridError` names each failed config and its error.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Square:
...     x: int
>>> run_grid([Square(2), Square(3)], lambda c: {"y": c.x ** 2}, progress=False)
[{'y': 4}, {'y': 9}]
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import math
import numbers
import os
import socket
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from . import data
from .progress import bar
from .validation import (
    CALLABLE,
    COUNT,
    POSITIVE,
    TEXT,
    Anything,
    Bool,
    Constraint,
    Either,
    FilePath,
    Folder,
    Instance,
    Int,
    Optional,
    Options,
    Sequence_,
    validate_params,
)

#: Part of every cache key. Bump it when the code behind a run changes its result.
CODE_VERSION = 5


class Workers(Constraint):
    """How many runs at once: -1 (all cores) or 1 to the machine's cores. Each run takes a core;
    more workers only slow every run and, as processes, take about 450 MB each."""

    def check(self, value, arg: str) -> int:
        cores = os.cpu_count() or 1
        if (
            isinstance(value, (bool, np.bool_))
            or not isinstance(value, numbers.Integral)
            or not (value == -1 or 1 <= int(value) <= cores)
        ):
            raise ValueError(
                f"{arg} must be -1 (all cores) or an integer from 1 to this machine's {cores} "
                f"cores (each run takes one), got {value!r}"
            )
        return int(value)

    def bad_values(self) -> dict:
        return {
            "zero": 0,
            "below -1": -2,
            "more than the cores": (os.cpu_count() or 1) + 1,
            "fractional": 1.5,
            "bool": True,
            "string": "2",
        }


CONFIG = Anything("a run's config: a dataclass")


@validate_params(arrays=Anything("tensors or NumPy arrays"))
def fingerprint(*arrays: torch.Tensor | np.ndarray) -> str:
    """A short content hash of arrays (their shapes, dtypes and bytes): the data a run used.

    >>> zeros = fingerprint(torch.zeros(3))
    >>> zeros == fingerprint(torch.zeros(3)), zeros == fingerprint(torch.ones(3))
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


@validate_params(config=CONFIG, data_fingerprint=TEXT)
def config_key(config, data_fingerprint: str = "") -> str:
    """The cache key of a run: a hash of the whole config, the data fingerprint and
    :data:`CODE_VERSION`. Any change to any of them gives a new key."""
    payload = json.dumps({"config": _plain(config), "data": data_fingerprint, "code": CODE_VERSION}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


@validate_params(
    load=CALLABLE,
    fields=Sequence_(TEXT),
    hashed=Anything("a function: the loaded data -> the arrays its fingerprint covers"),
)
class RunData:
    """Where the runs of one experiment get their data: loaded once per process, hashed once.

    ``load(*values)`` loads the data named by the config fields ``fields`` (in that order, e.g.
    ``("dataset", "n_train", "n_test", "data_root")``); ``hashed(data)`` gives the arrays its
    fingerprint covers. The runs of a grid differ in seed or method, not in data, so they share
    one loaded copy (nothing changes it in place) and one fingerprint; ``$QROBUST_DATA`` is
    part of what is cached, so another data folder loads again.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Run:
    ...     size: int
    ...     seed: int = 0
    >>> squares = RunData(lambda size: torch.arange(size) ** 2, ("size",), lambda d: (d,))
    >>> squares.of(Run(4, seed=1)).tolist(), squares.of(Run(4)) is squares.of(Run(4, seed=2))
    ([0, 1, 4, 9], True)
    >>> squares.key(Run(4)) == squares.key(Run(4, seed=1))   # the seed is part of the key
    False
    """

    def __init__(self, load: Callable[..., Any], fields: Sequence[str], hashed: Callable[[Any], Sequence]) -> None:
        self.fields = tuple(fields)
        self._load = functools.lru_cache(maxsize=8)(lambda *values, data_env: load(*values))
        self._fingerprint = functools.lru_cache(maxsize=8)(
            lambda *values, data_env: fingerprint(*hashed(self._load(*values, data_env=data_env)))
        )

    def _values(self, config) -> tuple:
        return tuple(getattr(config, name) for name in self.fields)

    def of(self, config) -> Any:
        """The data ``config`` loads."""
        return self._load(*self._values(config), data_env=os.environ.get(data.ENV_VAR, ""))

    def fingerprint(self, config) -> str:
        """A content hash of the data ``config`` loads (:func:`fingerprint`)."""
        return self._fingerprint(*self._values(config), data_env=os.environ.get(data.ENV_VAR, ""))

    def key(self, config) -> str:
        """The cache key of a run: its whole config, the fingerprint of its data and the code
        version (:func:`config_key`)."""
        return config_key(config, self.fingerprint(config))


@validate_params(values=Anything("numbers, one per seed"), axis=Optional(Int(0)), ddof=Options(0, 1), skip_nan=Bool())
def mean_std(values, axis: int | None = None, ddof: int = 1, skip_nan: bool = False):
    """Mean and standard deviation over seeds: every "mean +- std" the book prints.

    ``ddof=1`` gives the sample standard deviation; with fewer than ``ddof + 1`` values (one
    seed) the spread is NaN, since one seed says nothing about it. ``skip_nan`` leaves NaN values
    (a run with nothing to score) out of both; otherwise a NaN gives NaN. No values give
    (NaN, NaN). Along ``axis`` of an array it returns two arrays, else two floats.

    >>> mean_std([1.0, 2.0, 3.0])
    (2.0, 1.0)
    >>> mean_std([0.5])
    (0.5, nan)
    >>> mean_std([1.0, float("nan"), 2.0, 3.0], skip_nan=True)
    (2.0, 1.0)
    """
    a = np.asarray(values, dtype=float)
    if axis is None:
        a = a.reshape(-1)
        if skip_nan:
            a = a[~np.isnan(a)]
        n = len(a)
        return (float(a.mean()) if n else math.nan, float(a.std(ddof=ddof)) if n > ddof else math.nan)
    mean, std = (np.nanmean, np.nanstd) if skip_nan else (np.mean, np.std)
    n = (~np.isnan(a)).sum(axis=axis) if skip_nan else a.shape[axis]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: NaN, as documented
        return mean(a, axis=axis), np.where(n > ddof, std(a, axis=axis, ddof=ddof), math.nan)


#: The data folder argument of every experiment (``None`` for ``$QROBUST_DATA``, the cache, else
#: the bundled subset).
DATA_ROOT = Optional(Folder())
#: The options an experiment passes to :func:`run_grid`.
GRID_OPTIONS = Optional(Instance(dict, "a dict of run_grid's options (cache, executor, n_jobs, client, threads)"))


#: The config fields that name an experiment's training and test data (Parts I and II).
TRAIN_TEST_FIELDS = ("dataset", "n_train", "n_test", "data_root")


@validate_params(dataset=Options(*data.DATASETS), n_train=Optional(COUNT), n_test=Optional(COUNT), data_root=DATA_ROOT)
def load_train_test(dataset: str, n_train: int | None, n_test: int | None, data_root: str | None) -> tuple:
    """(train, test): class-balanced samples of ``dataset`` (:func:`~qrobust_lite.data.load`
    with seed 0, so every run of an experiment sees the same images)."""
    return (
        data.load(dataset, "train", n_train, seed=0, data_root=data_root, verbose=False),
        data.load(dataset, "test", n_test, seed=0, data_root=data_root, verbose=False),
    )


@validate_params(loaded=Anything("(train, test, ...) as load_train_test gives them"))
def train_test_arrays(loaded: tuple) -> tuple:
    """The images and labels of (train, test, ...): what the fingerprint of such data covers."""
    train, test = loaded[:2]
    return train.images, train.labels, test.images, test.labels


class GridError(RuntimeError):
    """Some runs of a grid raised; ``failures`` holds (config, error text) for each, and every
    other run's result was kept (and cached). Fix the cause and run the grid again: only the
    failed runs are computed."""

    def __init__(self, failures: list[tuple[Any, str]], done: int) -> None:
        self.failures = failures
        lines = [f"  {config!r}: {error.strip().splitlines()[-1]}" for config, error in failures[:5]]
        more = f"\n  ... and {len(failures) - 5} more" if len(failures) > 5 else ""
        super().__init__(
            f"{len(failures)} run(s) of the grid failed ({done} others finished and were "
            "kept):\n" + "\n".join(lines) + more + f"\nfirst traceback:\n{failures[0][1]}"
        )


@validate_params(result=Anything("what a run returned: it is the check"), where=TEXT)
def plain_result(result: Any, where: str = "result") -> Any:
    """``result`` as JSON holds it: dicts with string keys, lists, str, bool, int, float, None.

    NumPy scalars and arrays and torch tensors are converted exactly (``.item()``,
    ``.tolist()``); tuples become lists (as JSON gives them back). Anything else, or a dict key
    that is not a string (JSON would turn ``1`` into ``"1"``), raises ``TypeError`` naming
    where it sits.

    >>> plain_result({"acc": np.float32(0.5), "n": np.int64(3), "curve": torch.tensor([1, 2])})
    {'acc': 0.5, 'n': 3, 'curve': [1, 2]}
    """
    if result is None or isinstance(result, (str, bool, int, float)):
        return result
    if isinstance(result, (np.generic, np.ndarray, torch.Tensor)):
        if isinstance(result, torch.Tensor):
            result = result.detach().cpu().numpy()
        if result.dtype.kind not in "biuf":
            raise TypeError(f"{where} is a {result.dtype} array; results hold numbers, strings and lists")
        return result.tolist() if isinstance(result, np.ndarray) else result.item()
    if isinstance(result, dict):
        bad = [k for k in result if not isinstance(k, str)]
        if bad:
            raise TypeError(
                f"{where} has the key {bad[0]!r} ({type(bad[0]).__name__}); result keys must be "
                "strings, as JSON keeps them"
            )
        return {k: plain_result(v, f"{where}[{k!r}]") for k, v in result.items()}
    if isinstance(result, (list, tuple)):
        return [plain_result(v, f"{where}[{i}]") for i, v in enumerate(result)]
    raise TypeError(f"{where} is a {type(result).__name__}; results hold dicts, lists, numbers and strings")


#: Names a folder for the experiments' caches instead of the user's cache folder (``make book``
#: sets a fresh one, so that every number on the built pages is computed during the build).
CACHE_ENV_VAR = "QROBUST_CACHE"


@validate_params(name=TEXT)
def default_cache(name: str) -> Path:
    """``<user cache>/qrobust-lite/<name>``, or ``$QROBUST_CACHE/<name>`` when that is set: where
    an experiment keeps its results by default."""
    root = os.environ.get(CACHE_ENV_VAR, "").strip()
    return (Path(root) if root else data.cache_dir().parent) / name


@dataclasses.dataclass
class ResultCache:
    """One JSON file per run, ``<key>.json``, holding ``{"key", "config", "result"}``.

    ``hits``: results read; ``misses``: results computed; ``rejected``: files that could not be
    read or answered another config (warned about, recomputed).
    """

    folder: Path
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
        except (OSError, ValueError) as err:  # JSONDecodeError is a ValueError
            warnings.warn(f"cache file {path} is unusable ({err}); recomputing that run", stacklevel=3)
            self.rejected += 1
            return None
        return stored["result"]

    def store(self, key: str, config, result: dict) -> None:
        """Write atomically; on a folder that cannot be written, warn once and go on."""
        if self.unwritable:
            return
        text = json.dumps({"key": key, "config": _plain(config), "result": result})
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self.folder, suffix=".tmp", delete=False) as f:
                tmp = f.name
                f.write(text)
            os.replace(tmp, self.path(key))
        except OSError as err:
            self.unwritable = True
            warnings.warn(
                f"cannot write results to the cache folder {self.folder} ({err}); results are returned but not kept",
                stacklevel=3,
            )
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)


class _WithThreads:
    """``run`` with torch and the BLAS libraries behind NumPy (threadpoolctl) on ``threads``
    threads. Their results depend on the thread count (sums are split differently), and a Dask
    worker starts with one BLAS thread, so every executor runs a grid at the same count and
    gives the same results. Picklable, for process and cluster workers."""

    def __init__(self, run: Callable[[Any], dict], threads: int) -> None:
        self.run, self.threads = run, threads

    def __call__(self, config) -> dict | _Failure:
        torch.set_num_threads(self.threads)
        try:
            with threadpool_limits(limits=self.threads):
                return plain_result(self.run(config))
        except Exception:  # reported with its config by run_grid, after the others
            return _Failure(traceback.format_exc())


@dataclasses.dataclass(frozen=True)
class _Failure:
    """What a run that raised hands back instead of a result: its traceback, as text."""

    error: str


@validate_params(address=TEXT, timeout=POSITIVE)
def check_scheduler(address: str, timeout: float = 10.0) -> None:
    """Say what answers at a Dask scheduler's ``address`` (``tcp://HOST:PORT``), within ``timeout``
    seconds, and raise ``ValueError`` with a one-line reason unless it is a Dask scheduler.

    A Dask scheduler sends its handshake as soon as a connection opens; a web server (the
    dashboard, port 8787 by default) waits for a request. TLS addresses (``tls://``) are left to
    Dask's own connection timeout.
    """
    scheme, sep, rest = address.rpartition("://")
    host, colon, port = rest.rpartition(":")
    if (
        (sep and scheme not in ("tcp", "tls"))
        or not colon
        or not host
        or not port.isdigit()
        or not 0 < int(port) < 65536
    ):
        raise ValueError(f"scheduler must be an address like tcp://HOST:8786, got {address!r}")
    if scheme == "tls":
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as conn:
            conn.settimeout(timeout)
            try:
                first = conn.recv(256)
            except socket.timeout:  # not Dask; a web server answers a request
                conn.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
                try:
                    first = conn.recv(256) or b"(nothing)"
                except socket.timeout:
                    first = b"(nothing)"
    except OSError as err:
        raise ValueError(
            f"scheduler {address}: cannot connect ({err.strerror or err}); is the scheduler "
            "running, and is this its address?"
        ) from None
    if b"compression" not in first:
        found = (
            "a web server answers there"
            if first.startswith(b"HTTP/")
            else f"something listens there but sends nothing in {2 * timeout:g} s"
            if first == b"(nothing)"
            else f"something answers there ({first[:24]!r})"
        )
        raise ValueError(
            f"scheduler {address}: {found}, not a Dask scheduler (a scheduler's port is "
            "usually 8786, its dashboard's 8787)"
        )


@validate_params(scheduler=Optional(TEXT), workers=Workers(), processes=Bool(), timeout=POSITIVE)
def dask_client(scheduler: str | None = None, workers: int = 2, processes: bool = True, timeout: float = 10.0):
    """A ``dask.distributed.Client``: connected to ``scheduler`` (``"tcp://host:8786"``), or to a
    ``LocalCluster`` of ``workers`` single-threaded workers on this machine (loopback only):
    processes, or with ``processes=False`` threads of this process (no start-up cost: each
    worker process imports torch and PennyLane again, about 500 MB and seconds of CPU).

    A ``scheduler`` is checked first (:func:`check_scheduler`) and connected to within
    ``timeout`` seconds.

    Needs the ``cluster`` extra: ``pip install "qrobust-lite[cluster]"``. Close it when done
    (``with dask_client() as client:``); a cluster it started closes with it.
    """
    try:
        from distributed import Client
    except ImportError as err:
        raise ImportError('the dask executor needs dask and distributed: pip install "qrobust-lite[cluster]"') from err
    if scheduler is not None:
        check_scheduler(scheduler, timeout)
        return Client(scheduler, timeout=timeout)
    workers = os.cpu_count() or 1 if workers == -1 else workers
    # Given no address, Client starts a LocalCluster of its own and closes it with itself.
    # Workers in threads talk in-process; in processes, over TCP on loopback only.
    network = {"host": "127.0.0.1"} if processes else {}
    return Client(
        n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address="127.0.0.1:0", **network
    )


@validate_params(client=Anything("a dask.distributed.Client"))
def dashboard_link(client) -> str | None:
    """The address of a cluster's Dask dashboard (None without one). A cluster started here
    listens on loopback, whatever ``client.dashboard_link`` says; its pages need ``bokeh``."""
    port = client.scheduler_info().get("services", {}).get("dashboard")
    if port is None:
        return None
    return f"http://127.0.0.1:{port}/status" if client.cluster is not None else client.dashboard_link


@validate_params(
    configs=Sequence_(CONFIG, min_len=0),
    run=CALLABLE,
    key=CALLABLE,
    cache=Optional(Either(Instance(ResultCache, "a ResultCache"), FilePath())),
    executor=Options("local", "dask"),
    n_jobs=Workers(),
    prefer=Options("threads", "processes"),
    client=Anything("a dask.distributed.Client, or None"),
    threads=Optional(COUNT),
    progress=Bool(),
    desc=TEXT,
)
def run_grid(
    configs: Sequence,
    run: Callable[[Any], dict],
    *,
    key: Callable[[Any], str] = config_key,
    cache: ResultCache | str | Path | None = None,
    executor: str = "local",
    n_jobs: int = 2,
    prefer: str = "threads",
    client=None,
    threads: int | None = None,
    progress: bool = True,
    desc: str = "runs",
) -> list[dict]:
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

    ``n_jobs`` is at most the machine's cores (each run takes a core; more workers only slow
    every run and, as processes, take about 450 MB each), and no more workers start than
    there are runs left. Equal configs run once. A run that raises does not stop the
    others: they finish and are cached, then :class:`GridError` names the failed configs.
    """
    cores = os.cpu_count() or 1
    if threads is None:
        threads = torch.get_num_threads() if executor == "local" and n_jobs == 1 else 1
    if isinstance(cache, (str, Path)):
        cache = ResultCache(Path(cache))
    first: dict[str, int] = {}  # each distinct config's first place in the grid
    order = [first.setdefault(json.dumps(_plain(config), sort_keys=True), i) for i, config in enumerate(configs)]
    unique = sorted(first.values())
    keys = {i: key(configs[i]) for i in unique} if cache is not None else {}
    results: dict[int, dict] = {}
    todo = []
    for i in unique:
        stored = cache.load(keys[i], configs[i]) if cache is not None else None
        if stored is None:
            todo.append(i)
        else:
            results[i] = stored
    if cache is not None:
        cache.hits += len(unique) - len(todo)
        cache.misses += len(todo)
    failures = []
    if todo:
        workers = min(cores if n_jobs == -1 else int(n_jobs), len(todo))
        for i, result in bar(
            EXECUTORS[executor](
                _WithThreads(run, threads),
                [configs[i] for i in todo],
                todo,
                n_jobs=workers,
                prefer=prefer,
                client=client,
            ),
            progress,
            total=len(todo),
            desc=desc,
        ):
            if isinstance(result, _Failure):
                failures.append((configs[i], result.error))
                continue
            results[i] = result
            if cache is not None:
                cache.store(keys[i], configs[i], result)
    if failures:
        raise GridError(failures, done=len(results))
    return [results[j] if j == i else copy.deepcopy(results[j]) for i, j in enumerate(order)]


def _local(run, configs, indices, *, n_jobs, prefer, client):
    """(index, result) pairs in order, from joblib workers on this machine."""
    threads = torch.get_num_threads()
    try:
        jobs = Parallel(n_jobs=n_jobs, prefer=prefer, return_as="generator")(delayed(run)(c) for c in configs)
        yield from zip(indices, jobs)
    finally:
        torch.set_num_threads(threads)  # thread workers set it in this process


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
