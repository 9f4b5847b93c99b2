"""qrobust_lite.experiments: results in order, a cache that never serves stale, torn or foreign
results, and keeps working when it cannot write."""

import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

from qrobust_lite import experiments as E


@dataclass(frozen=True)
class Square:
    x: int
    note: tuple = ()


def square(config: Square) -> dict:
    return {"y": config.x**2}


def test_results_come_back_in_the_grid_order_on_threads_and_processes():
    grid = [Square(x) for x in range(8)]
    want = [{"y": x**2} for x in range(8)]
    assert E.run_grid(grid, square, n_jobs=2, progress=False) == want
    assert E.run_grid(grid, square, n_jobs=2, prefer="processes", progress=False) == want


def test_the_cache_reads_back_and_a_changed_config_or_data_misses(tmp_path):
    cache = E.ResultCache(tmp_path)
    grid = [Square(2), Square(3, ("a",))]
    assert E.run_grid(grid, square, cache=cache, progress=False) == [{"y": 4}, {"y": 9}]
    assert (cache.hits, cache.misses) == (0, 2)
    calls = []
    assert E.run_grid(grid, lambda c: calls.append(c) or square(c), cache=cache, progress=False) == [{"y": 4}, {"y": 9}]
    assert (cache.hits, cache.misses, calls) == (2, 2, [])
    assert E.config_key(Square(2)) != E.config_key(Square(2, ("b",)))
    assert E.config_key(Square(2), "data A") != E.config_key(Square(2), "data B")


@pytest.mark.parametrize(
    "content",
    ["", '{"key": "x", "con', '{"val_accuracy": 42}', "[1, 2]"],
    ids=["empty", "truncated", "foreign", "not a result"],
)
def test_a_damaged_or_foreign_file_is_named_and_recomputed(tmp_path, content):
    config = Square(5)
    path = tmp_path / f"{E.config_key(config)}.json"
    path.write_text(content)
    cache = E.ResultCache(tmp_path)
    with pytest.warns(UserWarning, match=rf"cache file {path}"):
        assert E.run_grid([config], square, cache=cache, progress=False) == [{"y": 25}]
    assert (cache.rejected, cache.misses) == (1, 1)
    assert json.loads(path.read_text())["result"] == {"y": 25}  # repaired


def test_a_file_that_answers_another_config_is_not_served(tmp_path):
    cache = E.ResultCache(tmp_path)
    E.run_grid([Square(2)], square, cache=cache, progress=False)
    # a key collision, or a file copied by hand: the same name, another question
    os.replace(cache.path(E.config_key(Square(2))), cache.path(E.config_key(Square(3))))
    with pytest.warns(UserWarning, match="answers another configuration"):
        assert E.run_grid([Square(3)], square, cache=cache, progress=False) == [{"y": 9}]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_cache_warns_once_and_returns_every_result(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.warns(UserWarning, match="cannot write results") as record:
            out = E.run_grid([Square(x) for x in range(4)], square, cache=folder, progress=False)
        assert out == [{"y": x**2} for x in range(4)]
        assert sum("cannot write" in str(w.message) for w in record) == 1
    finally:
        folder.chmod(0o700)


def test_an_unwritable_cache_path_warns_once_and_returns_every_result(tmp_path):
    """A cache 'folder' that is a file cannot be written, even by root."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = E.run_grid([Square(x) for x in range(4)], square, cache=blocker / "cache", progress=False)
    assert out == [{"y": x**2} for x in range(4)]
    assert sum("cannot write results" in str(w.message) for w in record) == 1


def test_two_processes_on_one_cache_never_see_a_torn_file(tmp_path):
    """One process rewrites a result over and over while another reads it: every read is whole."""
    writer = textwrap.dedent(f"""
        import time
        from dataclasses import dataclass
        from qrobust_lite import experiments as E
        @dataclass(frozen=True)
        class Square:
            x: int
            note: tuple = ()
        cache, config = E.ResultCache({str(tmp_path)!r}), Square(7)
        end = time.time() + 3
        i = 0
        while time.time() < end:
            cache.store(E.config_key(config), config, {{"y": 49, "padding": "x" * (i % 5000)}})
            i += 1
        print(i)
    """)
    cache, config = E.ResultCache(tmp_path), Square(7)
    cache.store(E.config_key(config), config, {"y": 49})
    proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    reads = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a torn file would warn: fail instead
        while proc.poll() is None:
            assert cache.load(E.config_key(config), config)["y"] == 49
            reads += 1
    writes = int(proc.communicate(timeout=30)[0])
    assert proc.returncode == 0 and writes > 100 and reads > 100
    assert not list(tmp_path.glob("*.tmp"))  # no temporary files left behind


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="n_jobs must be -1 .all cores. or an integer from 1 to"):
        E.run_grid([], square, n_jobs=0)
    with pytest.raises(ValueError, match=r"n_jobs must be .* cores \(each run takes one\), got 20000"):
        E.run_grid([Square(1)], square, n_jobs=20000)
    with pytest.raises(ValueError, match=r"prefer must be one of \['threads', 'processes'\]"):
        E.run_grid([], square, prefer="gpu")
    with pytest.raises(ValueError, match=r"executor must be one of \['local', 'dask'\]"):
        E.run_grid([], square, executor="ray")
    with pytest.raises(ValueError, match=r"workers must be -1 \(all cores\) or an integer from 1"):
        E.dask_client(workers=0)


# --- grids that cannot produce silent garbage ---------------------------------------------------


def square_but_three(config: Square) -> dict:
    if config.x == 3:
        raise ArithmeticError("three is not allowed")
    return {"y": config.x**2}


@pytest.mark.parametrize("prefer", ["threads", "processes"])
def test_a_failing_run_is_named_and_every_other_result_is_kept(tmp_path, prefer):
    grid = [Square(x) for x in range(6)]
    with pytest.raises(E.GridError, match=r"1 run\(s\) of the grid failed \(5 others finished") as err:
        E.run_grid(grid, square_but_three, cache=tmp_path, n_jobs=2, prefer=prefer, progress=False)
    assert err.value.failures[0][0] == Square(3) and "ArithmeticError: three is not allowed" in str(err.value)
    assert "Square(x=3, note=())" in str(err.value)
    cache = E.ResultCache(tmp_path)
    assert E.run_grid(grid, square, cache=cache, progress=False) == [{"y": x**2} for x in range(6)]
    assert (cache.hits, cache.misses) == (5, 1)  # only the failed run is computed again


def numpy_result(config: Square) -> dict:
    import numpy as np
    import torch

    return {
        "acc": np.float32(0.1),
        "n": np.int64(config.x),
        "ok": np.bool_(True),
        "curve": np.arange(3, dtype=np.float32) / 3,
        "t": torch.tensor([0.5, 0.25]),
        "pair": (1, 2),
    }


def test_results_are_made_json_plain_exactly_and_a_cached_result_equals_a_fresh_one(tmp_path):
    import numpy as np

    fresh = E.run_grid([Square(2)], numpy_result, cache=tmp_path, progress=False)[0]
    cached = E.run_grid([Square(2)], numpy_result, cache=tmp_path, progress=False)[0]
    assert fresh == cached and json.loads(json.dumps(fresh)) == fresh
    assert fresh["acc"] == float(np.float32(0.1)) and fresh["curve"][1] == float(np.float32(1) / 3)
    assert fresh["n"] == 2 and type(fresh["n"]) is int and fresh["ok"] is True and fresh["pair"] == [1, 2]
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    "result,match",
    [
        ({1: 0.5}, r"result has the key 1 \(int\); result keys must be strings"),
        ({"a": {"b": {2, 3}}}, r"result\['a'\]\['b'\] is a set"),
        ({"a": [object()]}, r"result\['a'\]\[0\] is a object"),
    ],
)
def test_a_result_json_cannot_hold_is_refused_by_where_it_sits(tmp_path, result, match):
    with pytest.raises(E.GridError, match=match):
        E.run_grid([Square(1)], lambda c: result, cache=tmp_path, progress=False)
    assert not list(tmp_path.glob("*"))  # nothing half-written


def test_equal_configs_run_once_and_each_gets_its_own_copy():
    calls = []

    def counted(config: Square) -> dict:
        calls.append(config.x)
        return {"y": [config.x]}

    out = E.run_grid([Square(1), Square(2), Square(1), Square(1)], counted, n_jobs=1, progress=False)
    assert sorted(calls) == [1, 2] and out == [{"y": [1]}, {"y": [2]}, {"y": [1]}, {"y": [1]}]
    out[0]["y"].append(9)
    assert out[2] == {"y": [1]}


def test_a_scheduler_address_is_checked_and_what_answers_there_is_named():
    import http.server
    import socket
    import threading

    web = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    with socket.socket() as silent, socket.socket() as closed:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        cases = {
            f"tcp://127.0.0.1:{web.server_port}": "a web server answers there, not a Dask scheduler",
            f"tcp://127.0.0.1:{silent.getsockname()[1]}": "something listens there but sends nothing in 1 s",
            f"tcp://127.0.0.1:{closed.getsockname()[1]}": "cannot connect",
            "not-an-address": "scheduler must be an address like tcp://HOST:8786",
            "tcp://host:99999": "scheduler must be an address like",
        }
        for address, message in cases.items():
            with pytest.raises(ValueError, match=message):
                E.check_scheduler(address, timeout=0.5)
    web.shutdown()


# --- a real Dask cluster on loopback ---------------------------------------------------------

needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason='needs the cluster extra: pip install "qrobust-lite[cluster]"',
)


def slow_square(config: Square) -> dict:
    import time

    time.sleep(0.4)
    return {"y": config.x**2}


@pytest.fixture(scope="module")
def client():
    with E.dask_client(workers=2) as c:
        yield c


@needs_dask
def test_a_dask_cluster_gives_exactly_the_local_results_of_a_poisoning_grid(client):
    from qrobust_lite import poisoning as P

    grid = [
        P.PoisoningRun(
            dataset="spin chain", model=m, alpha=a, seed=s, epochs=2, n_train=40, n_val=20, spin_qubits=4, depth=1
        )
        for m in ("MLP", "QNN")
        for a in (0.0, 0.5)
        for s in (0, 1)
    ]
    strip = lambda rs: json.dumps([{k: v for k, v in r.items() if k != "seconds"} for r in rs])  # noqa: E731
    on_dask = E.run_grid(grid, P.run, executor="dask", client=client, progress=False)
    assert strip(on_dask) == strip(E.run_grid(grid, P.run, progress=False))
    assert len(client.scheduler_info()["workers"]) == 2


@needs_dask
def test_a_grid_survives_a_worker_killed_mid_way_and_keeps_each_result_once(tmp_path):
    import signal
    import threading

    grid = [Square(x) for x in range(10)]
    done = {}
    with E.dask_client(workers=2) as c:
        pids = c.run(os.getpid)  # {worker address: process id}
        killer = threading.Timer(1.0, os.kill, (next(iter(pids.values())), signal.SIGKILL))
        killer.start()
        worker = threading.Thread(
            target=lambda: done.update(
                out=E.run_grid(grid, slow_square, executor="dask", client=c, cache=tmp_path, progress=False)
            )
        )
        worker.start()
        worker.join(timeout=90)
        killer.cancel()
        assert not worker.is_alive(), "the grid did not finish within 90 s"
        assert killer.finished.is_set()
        assert set(c.run(os.getpid).values()) != set(pids.values())  # a worker was replaced
    assert done["out"] == [{"y": x**2} for x in range(10)]
    assert len(list(tmp_path.glob("*.json"))) == 10 and not list(tmp_path.glob("*.tmp"))


@needs_dask
def test_a_cluster_of_threads_gives_the_same_results_and_its_dashboard_answers():
    import urllib.request

    grid = [Square(x) for x in range(6)]
    with E.dask_client(workers=2, processes=False) as c:
        assert E.run_grid(grid, square, executor="dask", client=c, progress=False) == [{"y": x**2} for x in range(6)]
        with urllib.request.urlopen(E.dashboard_link(c), timeout=10) as page:
            assert page.status == 200


def _without_seconds(value):
    """Results with the wall-clock fields removed (the only ones that differ between runs)."""
    if isinstance(value, dict):
        return {k: _without_seconds(v) for k, v in value.items() if not k.endswith("seconds")}
    if isinstance(value, list):
        return [_without_seconds(v) for v in value]
    return value


@needs_dask
def test_a_dask_cluster_gives_exactly_the_local_results_of_every_part(client):
    from qrobust_lite import defences, label_refining, unlearning

    on_dask, one_thread = {"executor": "dask", "client": client}, {"threads": 1}
    part_one = lambda grid: label_refining.robustness_experiment(  # noqa: E731
        "mnist", n_train=100, n_test=30, seeds=(0, 1), epochs=1, vqc_epochs=1, progress=False, grid_options=grid
    )
    part_two = lambda grid: defences.defence_experiment(  # noqa: E731
        "mnist",
        defences=("none", "quantum patches"),
        n_train=20,
        n_test=10,
        seeds=(0,),
        epochs=1,
        epsilons=(8 / 255,),
        progress=False,
        grid_options=grid,
    )
    part_three = lambda grid: unlearning.unlearning_experiment(  # noqa: E731
        "smoke", models=("MLP",), methods=("fine-tune", "SCRUB"), progress=False, grid_options=grid
    )
    for part in (part_one, part_two, part_three):
        local, remote = part(one_thread), part(on_dask)
        assert len(local["runs"]) > 1
        assert json.dumps(_without_seconds(local)) == json.dumps(_without_seconds(remote))


def test_every_part_is_cached_by_the_runner(tmp_path):
    from qrobust_lite import defences

    grid = {"cache": tmp_path}
    run = lambda: defences.defence_experiment(  # noqa: E731
        "mnist",
        defences=("none",),
        n_train=20,
        n_test=10,
        seeds=(0, 1),
        epochs=1,
        epsilons=(8 / 255,),
        progress=False,
        grid_options=grid,
    )
    first = run()
    assert len(list(tmp_path.glob("*.json"))) == 2
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")}
    assert run() == first  # read back, seconds included: not re-trained
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")} == stamps


def test_the_default_cache_follows_qrobust_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(E.CACHE_ENV_VAR, raising=False)
    assert E.default_cache("sweeps").parent.name == "qrobust-lite"
    monkeypatch.setenv(E.CACHE_ENV_VAR, str(tmp_path))
    assert E.default_cache("sweeps") == tmp_path / "sweeps"


# --- mean and spread over seeds --------------------------------------------------------------------


def test_mean_std_defines_one_seed_no_seed_and_nan():
    assert E.mean_std([0.25]) == (0.25, pytest.approx(float("nan"), nan_ok=True))
    assert E.mean_std([0.25], ddof=0) == (0.25, 0.0)  # the population spread of one value is 0
    assert all(math.isnan(v) for v in E.mean_std([]))
    assert math.isnan(E.mean_std([0.2, float("nan")])[0])  # NaN in, NaN out
    assert E.mean_std([0.2, float("nan"), 0.4], skip_nan=True) == pytest.approx((0.3, 0.1414213562373095))


def test_mean_std_along_an_axis_matches_numpy_and_marks_thin_columns_nan():
    v = np.array([[0.1, 0.5, np.nan], [0.3, np.nan, np.nan], [0.2, 0.7, np.nan]])
    mean, std = E.mean_std(v, axis=0, skip_nan=True)
    assert mean[:2] == pytest.approx([0.2, 0.6]) and std[:2] == pytest.approx([0.1, np.std([0.5, 0.7], ddof=1)])
    assert np.isnan(mean[2]) and np.isnan(std[2])  # an all-NaN column, without a warning
    _, population = E.mean_std(v[:, :1], axis=0, ddof=0)
    assert population == pytest.approx([np.std([0.1, 0.3, 0.2])])
