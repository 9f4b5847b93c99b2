"""benchmarks/fast_path.py: its workers, the circuit it hands the peer, and the README table it
writes (speed itself is measured by the script, never by tests)."""

import json
import math
import re
import sys
from pathlib import Path

import pennylane as qml
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import fast_path  # noqa: E402


def test_the_readme_table_comes_from_the_stored_run():
    """``fast_path.py --docs`` is the only writer of the README's speed table."""
    results = json.loads(fast_path.RESULTS.read_text())
    assert fast_path.readme_block(results) in (ROOT / "README.md").read_text()
    for workload in ("training", "labels", "patches"):
        for method, per_size in results[workload].items():
            for result in per_size.values():
                assert result["rate"] > 0 and result["first_call_mib"] >= 0, (workload, method)
                if method in ("qrobust_lite", fast_path.PEER):  # compared before they count
                    assert result["max_difference"] <= results["tolerance"], (workload, method)


def test_the_peer_gets_the_same_circuit_as_a_gate_list():
    from qrobust_lite import circuits

    gates = fast_path.gate_list(circuits.entangling_ansatz, (1, 2, 3), 2)
    assert [g[0] for g in gates] == ["RY", "RY", "Rot", "Rot", "CNOT", "CNOT"]
    assert gates[0][2] == [["x", 0]] and gates[2][2] == [["w", 0], ["w", 1], ["w", 2]]
    weights = circuits.random_circuit_weights(1, 4, 0)
    fixed = fast_path.gate_list(lambda w, wires: circuits.random_circuit(w, wires, 0), (1, 4), 4, weights=weights)
    rotations = [g for g in fixed if g[0] in ("RX", "RY", "RZ") and g[2][0][0] == "c"]
    assert len(rotations) == 4 and {g[0] for g in fixed} <= {"RX", "RY", "RZ", "CNOT"}


def test_a_replay_of_the_gate_list_is_the_pennylane_circuit():
    """The gate list, applied gate by gate in PennyLane, gives the template's probabilities:
    what the peer builds is the circuit the other methods run."""
    from qrobust_lite import circuits

    x, w = torch.rand(3), torch.rand(2, 3, 3, dtype=torch.float64)
    gates = fast_path.gate_list(circuits.entangling_ansatz, (2, 3, 3), 3)
    flat = w.reshape(-1)

    @qml.qnode(qml.device("default.qubit", wires=3))
    def replay():
        for name, wires, params in gates:
            values = [x[i] if kind == "x" else flat[i] for kind, i in params]
            getattr(qml, name)(*values, wires=wires)
        return qml.probs(wires=range(3))

    @qml.qnode(qml.device("default.qubit", wires=3))
    def original():
        qml.AngleEmbedding(x, wires=range(3), rotation="Y")
        circuits.entangling_ansatz(w, wires=range(3))
        return qml.probs(wires=range(3))

    assert torch.allclose(replay(), original(), atol=1e-12)


@pytest.mark.parametrize("workload,size,batch", [("training", 2, 4), ("labels", 8, 8), ("patches", 4, 1)])
def test_a_worker_returns_a_rate_its_outputs_and_memory(workload, size, batch):
    job = {
        "method": "qrobust_lite",
        "workload": workload,
        "min_time": 0.0,
        "cases": [{"size": size, "n_qubits": size, "batch": batch, "check_rows": 2}],
    }
    (result,) = fast_path.torch_worker(job)["results"]
    assert result["rate"] > 0 and result["first_call_mib"] >= 0
    if workload == "training":
        assert len(result["check"]["grad"]) == 4 * size * 3
    else:
        assert len(result["check"]["values"]) == 2


# ---- benchmarks/gpu_check.py and scripts/gpu_wheels.py --------------------------------------

sys.path.insert(0, str(ROOT / "scripts"))
import gpu_check  # noqa: E402
import gpu_wheels  # noqa: E402


@pytest.fixture(scope="module")
def quick_record(tmp_path_factory):
    """The whole check, its logic on the CPU standing in for the GPU, at tiny sizes (seconds),
    with PennyLane's lightning plugin and ipywidgets hidden, as on a GPU machine given only the
    carried wheels."""
    import subprocess

    out = tmp_path_factory.mktemp("gpu") / "gpu_check.json"
    blocked = "import sys; sys.modules.update(dict.fromkeys(['pennylane_lightning', 'ipywidgets']))"
    args = ["gpu_check.py", "--device", "cpu", "--quick", "--json", str(out)]
    script = str(ROOT / "benchmarks" / "gpu_check.py")
    run = f"{blocked}; sys.argv = {args!r}; import runpy; runpy.run_path({script!r}, run_name='__main__')"
    done = subprocess.run(
        [sys.executable, "-c", run],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(out.read_text()), done.stdout


def test_the_gpu_check_runs_every_stage_and_records_it(quick_record):
    record, printed = quick_record
    assert record["machine"]["device"] == "cpu" and record["tolerance"] == gpu_check.TOLERANCE
    assert [(r["qubits"], r["batch"]) for r in record["agreement"]] == gpu_check.SIZES["quick"]["agree"]
    assert all(r["probabilities"] == 0 and r["gradient"] == 0 for r in record["agreement"])
    assert len(record["training"]) == 4 and all(r["device"] > 0 and r["cpu"] > 0 for r in record["training"])
    assert record["lightning.gpu"] == {"ran": False, "why": "no GPU"}
    slice_ = record["paper_slice"]
    assert slice_["runs"] and len(slice_["runs"]) <= slice_["of"] and slice_["stored_cpu"]["median_seconds"] > 0
    # the stored runs are of the full scale: no accuracy of theirs is set beside a smoke run's
    assert slice_["stored_cpu"]["scale"] == "full" and all(r["stored_val_accuracy"] is None for r in slice_["runs"])
    assert [r["experiment"] for r in record["chapters"]] == ["poisoning"] and record["chapters"][0]["seconds"] > 0
    assert "poisoning " in printed  # the README's line of experiments that ran
    assert record["errors"] == {} and "written:" in printed and gpu_check.failures(record) == []


def test_a_failed_stage_is_recorded_and_the_others_run_and_are_written(monkeypatch, tmp_path):
    """One stage's failure (out of memory, no data) must not cost what the others measured: the
    record is written after every stage, and the run's exit status says what failed."""
    written = []
    monkeypatch.setattr(
        gpu_check, "agreement", lambda *a: [{"qubits": 4, "batch": 8, "probabilities": 0.0, "gradient": 0.0}]
    )

    def no_training(*args):
        written.append(json.loads(out.read_text()))  # the stage before is on disk already
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(gpu_check, "speeds", no_training)
    monkeypatch.setattr(gpu_check, "paper_slice", lambda *a: dict(gpu_check.NOT_DONE["paper_slice"], of=3))
    monkeypatch.setattr(gpu_check, "chapters", lambda *a: [{"experiment": "unlearning", "error": "RuntimeError: no"}])
    out = tmp_path / "gpu_check.json"
    record = gpu_check.check("cpu", True, 60, None, out)
    assert written[0]["agreement"] == record["agreement"] and written[0]["training"] == gpu_check.NOT_DONE["training"]
    assert record["training"] == [] and record["paper_slice"]["of"] == 3
    assert record["errors"] == {"training": "RuntimeError: CUDA out of memory"}
    assert json.loads(out.read_text()) == record
    assert gpu_check.failures(record) == [
        "unlearning at smoke scale: RuntimeError: no",
        "stage training failed: RuntimeError: CUDA out of memory",
    ]
    assert "- stage training failed: RuntimeError: CUDA out of memory" in gpu_check.readme_block(record)


def test_a_size_that_fails_is_recorded_and_the_next_one_runs(monkeypatch):
    from qrobust_lite.course import performance

    def out_of_memory_at(size: int, real):
        def run(*args):
            if size in args:
                raise MemoryError("out of memory")
            return real(*args)

        return run

    monkeypatch.setattr(gpu_check, "step_outputs", out_of_memory_at(6, gpu_check.step_outputs))
    rows = gpu_check.agreement("cpu", [(6, 4), (4, 4)], gpu_check.Budget(60))
    assert rows[0] == {"qubits": 6, "batch": 4, "error": "MemoryError: out of memory"} and rows[1]["gradient"] == 0
    record = {"tolerance": 1e-8, "agreement": rows, "training": []}
    assert gpu_check.failures(record) == ["6 qubits: not compared (MemoryError: out of memory)"]
    assert gpu_check.compared(record) == rows[1:]

    monkeypatch.setattr(performance, "training_step", out_of_memory_at(16, performance.training_step))
    rows = gpu_check.speeds("cpu", [4], [16, 8], gpu_check.Budget(60), 0.01)
    assert rows[0]["device"] is None and rows[0]["device_skipped"] == "MemoryError: out of memory"
    assert rows[1]["device"] > 0 and rows[1]["cpu"] > 0
    oom = "MemoryError: out of memory"
    assert gpu_check.training_rows({"training": rows})[0] == ["4", "16", "-", "-", "-", f"GPU: {oom}; CPU: {oom}"]


def test_an_experiment_that_fails_on_the_device_is_recorded_and_the_next_one_runs(monkeypatch):
    """The chapters' experiments, at smoke scale, as a learner's GPU machine runs them: one that
    fails (a CPU generator meeting GPU tensors, say) is recorded and counted as a failure."""
    from qrobust_lite.course import cli

    ran = []

    def run(name, scale, out, data_root, datasets, grid):
        ran.append((name, scale, datasets))
        if name == "poisoning":
            raise RuntimeError("Expected a 'cuda' device type for generator but found 'cpu'")

    monkeypatch.setattr(cli, "run_experiment", run)
    rows = gpu_check.chapters(gpu_check.Budget(60), 30, ["poisoning", "unlearning"])
    assert ran == [("poisoning", "smoke", ["mnist", "spin"]), ("unlearning", "smoke", ["mnist", "spin"])]
    assert rows[0] == {
        "experiment": "poisoning",
        "error": "RuntimeError: Expected a 'cuda' device type for generator but found 'cpu'",
    }
    assert rows[1]["experiment"] == "unlearning" and rows[1]["seconds"] >= 0
    assert gpu_check.chapters(gpu_check.Budget(0), 30, ["unlearning"]) == [
        {"experiment": "unlearning", "skipped": "time budget"}
    ]
    record = {"tolerance": 1e-8, "agreement": [], "chapters": rows}
    assert gpu_check.failures(record) == [f"poisoning at smoke scale: {rows[0]['error']}"]


def test_a_measurement_predicted_to_outrun_the_budget_is_skipped(monkeypatch):
    """A 16-qubit step on a CPU takes a minute: the grid measures only what the time left allows,
    predicted from the last rate (the batch, and up to 3x per added qubit)."""
    from qrobust_lite.course import performance

    assert gpu_check.predicted_seconds(None, 16, 4096) == 0.0
    assert gpu_check.predicted_seconds((12, 256, 1000.0), 16, 512) == pytest.approx(2 * 0.512 * 81)
    monkeypatch.setattr(performance, "training_step", lambda name, n, batch: None)
    monkeypatch.setattr(performance, "samples_per_second", lambda step, batch, **kwargs: 100.0)
    rows = gpu_check.speeds("cpu", [4, 5], [8, 4000], gpu_check.Budget(60), 0.01)
    assert [(r["qubits"], r["batch"], r["device"], r["cpu"]) for r in rows] == [
        (4, 8, 100.0, 100.0),
        (4, 4000, None, None),
        (5, 8, 100.0, 100.0),
        (5, 4000, None, None),
    ]
    assert rows[1]["device_skipped"] == rows[1]["cpu_skipped"] == "time budget (about 80 s)"
    assert rows[3]["cpu_skipped"] == "time budget (about 80 s)"  # from the 5-qubit rate


def test_the_paper_slice_sets_the_stored_cpu_run_of_the_same_config_beside_its_own(monkeypatch, tmp_path, quick_record):
    stored = tmp_path / "poisoning.json"
    run = {"model": "QNN", "poison": "label flip", "alpha": 0.0, "seed": 0, "val_accuracy": 0.125, "seconds": 4.0}
    runs = [run, {**run, "alpha": 0.3, "val_accuracy": 0.5, "seconds": 6.0}, {**run, "model": "MLP", "seconds": 1.0}]
    stored.write_text(json.dumps({"scale": "smoke", "machine": "a CPU", "runs": runs}))
    monkeypatch.setattr(gpu_check, "STORED_CPU_RUNS", stored)
    slice_ = gpu_check.paper_slice("smoke", gpu_check.Budget(60), 20)
    assert slice_["stored_cpu"] == {"median_seconds": 6.0, "machine": "a CPU", "scale": "smoke"}
    assert {r["alpha"]: r["stored_val_accuracy"] for r in slice_["runs"]} == {0.0: 0.125, 0.3: 0.5, 0.4: None}
    text = gpu_check.readme_block({**quick_record[0], "paper_slice": slice_})
    assert "(stored smoke CPU runs: median 6.0 s on a CPU)" in text and "0.3: " in text and "(0.500)" in text


def test_the_gpu_check_says_there_is_no_gpu_and_exits_0(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert gpu_check.main([]) == 0
    assert "no CUDA device here" in capsys.readouterr().out


def test_the_gpu_check_fails_on_disagreement_and_skips_what_the_budget_or_memory_leave_out(quick_record):
    record = json.loads(json.dumps(quick_record[0]))
    record["agreement"][0]["gradient"] = 1e-6
    assert gpu_check.failures(record) == ["4 qubits: probabilities differ by 0.0e+00, gradients by 1.0e-06"]
    assert gpu_check.state_bytes(16, 4096) > gpu_check.CPU_STATE_BYTES >= gpu_check.state_bytes(12, 4096)
    budget = gpu_check.Budget(0)
    rows = gpu_check.speeds("cpu", [4], [8], budget, 0.01)
    assert rows == [
        {
            "qubits": 4,
            "batch": 8,
            "device": None,
            "device_skipped": "time budget",
            "cpu": None,
            "cpu_skipped": "time budget",
        }
    ]


def test_the_readme_gpu_section_comes_from_the_stored_check():
    """``gpu_check.py --docs`` is the only writer of the README's GPU section: the stored record,
    or, until a GPU has run it, the plain statement that none has."""
    record = json.loads(gpu_check.RESULTS.read_text()) if gpu_check.RESULTS.exists() else None
    assert gpu_check.readme_block(record) in (ROOT / "README.md").read_text()


def test_a_record_cut_short_or_with_nan_still_reads_and_fails(quick_record):
    """A run killed in its last stage leaves the stages it did not finish as NOT_DONE, which every
    reader shows; a NaN difference is a disagreement, not a pass."""
    record = json.loads(json.dumps(quick_record[0]))
    record.update(json.loads(json.dumps({k: gpu_check.NOT_DONE[k] for k in ("training", "lightning.gpu")})))
    text = gpu_check.readme_block(record)
    assert "| qubits | batch |" in text and "`lightning.gpu`: not run (the stage did not finish)." in text
    assert gpu_check.training_rows(record) == []
    record["agreement"][1]["gradient"] = float("nan")
    assert math.isnan(gpu_check.worst_difference(record))
    assert gpu_check.failures(record) == ["6 qubits: probabilities differ by 0.0e+00, gradients by nan"]
    assert math.isnan(gpu_check.worst_difference({"agreement": []}))


def test_a_paper_slice_run_that_fails_is_recorded_and_the_rest_run(monkeypatch, tmp_path):
    from qrobust_lite import poisoning

    real = poisoning.run

    def run(config):
        if config.alpha == 0.3:
            raise MemoryError("out of memory")
        return real(config)

    monkeypatch.setattr(poisoning, "run", run)
    monkeypatch.setattr(gpu_check, "STORED_CPU_RUNS", tmp_path / "none.json")  # no stored runs
    slice_ = gpu_check.paper_slice("smoke", gpu_check.Budget(60), 20)
    assert [r["alpha"] for r in slice_["runs"]] == [0.0, 0.3, 0.4] and slice_["stored_cpu"] is None
    assert slice_["runs"][1] == {"alpha": 0.3, "error": "MemoryError: out of memory"}
    record = {"agreement": [], "paper_slice": slice_}
    assert gpu_check.failures(record) == ["paper slice, alpha 0.3: MemoryError: out of memory"]


def test_the_gpu_check_refuses_where_its_record_cannot_or_should_not_go(tmp_path, capsys):
    """Checked before any work: a missing folder, the stored GPU record's place for a CPU run,
    and an earlier record without --force."""
    earlier = tmp_path / "gpu_check.json"
    earlier.write_text("{}")
    for argv, message in [
        (["--json", str(tmp_path / "no" / "x.json")], "does not exist"),
        (["--json", str(gpu_check.RESULTS)], "no GPU check"),
        (["--json", str(earlier)], "pass --force"),
    ]:
        with pytest.raises(SystemExit):
            gpu_check.main(["--device", "cpu", "--quick", *argv])
        assert message in capsys.readouterr().err
    assert earlier.read_text() == "{}"


def test_the_mnist_files_carried_for_the_paper_slice_are_the_official_ones(monkeypatch, tmp_path):
    """``make gpu-wheels`` copies MNIST's training files only after their MD5 check, from the
    first root that has both; without them it carries none and says so."""
    root, out = tmp_path / "root", tmp_path / "out"
    monkeypatch.setattr(gpu_wheels.data, "candidate_roots", lambda data_root=None: [("data_root argument", root)])
    assert gpu_wheels.copy_mnist(out, root) is None and not out.exists()
    (root / "MNIST" / "raw").mkdir(parents=True)
    for name in gpu_wheels.MNIST_FILES:
        (root / "MNIST" / "raw" / name).write_bytes(b"not MNIST")
    with pytest.raises(SystemExit, match="is not the official file"):
        gpu_wheels.copy_mnist(out, root)
    assert not out.exists()
    assert sorted(gpu_wheels.MNIST_FILES) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    import hashlib

    monkeypatch.setattr(
        gpu_wheels, "MNIST_FILES", dict.fromkeys(gpu_wheels.MNIST_FILES, hashlib.md5(b"not MNIST").hexdigest())
    )
    assert gpu_wheels.copy_mnist(out, root) == root  # files whose MD5 matches are copied
    assert sorted(f.name for f in (out / "MNIST" / "raw").iterdir()) == sorted(gpu_wheels.MNIST_FILES)


def test_the_carried_wheels_cover_every_need_the_gpu_machine_lacks():
    """Every requirement of the package and, recursively, of what is carried is carried, on the
    GPU machine's image, or named as not needed; and each carried wheel has a pinned version."""
    from importlib.metadata import requires

    def name(requirement: str) -> str:
        return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.\-]+", requirement)[0]).lower()

    def runtime(dist: str) -> list[str]:
        return [name(r) for r in requires(dist) or [] if "extra ==" not in r]

    known = {name(n) for n in gpu_wheels.CARRIED + gpu_wheels.ON_THE_IMAGE} | set(gpu_wheels.NOT_NEEDED)
    needs = set(runtime("qrobust-lite"))
    for dist in gpu_wheels.CARRIED:
        needs |= set(runtime(dist))
    assert needs - known == set()
    assert len(gpu_wheels.pinned()) == len(gpu_wheels.CARRIED)


# ---- benchmarks/strongest_peer.py ----------------------------------------------------------

import strongest_peer  # noqa: E402


def test_the_readme_strongest_peer_table_comes_from_the_stored_run():
    """``strongest_peer.py --docs`` is the only writer of the README's strongest-peer tables, and
    every rate in them was checked against default.qubit first."""
    results = json.loads(strongest_peer.RESULTS.read_text())
    assert strongest_peer.readme_block(results) in (ROOT / "README.md").read_text()
    for workload, record in strongest_peer.records(results).items():
        for rows in record["methods"].values():
            for row in rows if isinstance(rows, list) else []:
                assert row["rate"] > 0 and row["max_difference"] <= record["tolerance"], (workload, row)


def test_a_peer_whose_outputs_differ_is_not_counted():
    results = {
        "tolerance": 1e-8,
        "methods": {
            "qrobust_lite": [{"size": 4, "rate": 10.0, "max_difference": 0.0}],
            "fast but wrong": [{"size": 4, "rate": 99.0, "max_difference": 1e-3}],
            "broken": {"error": "could not import"},
        },
    }
    assert strongest_peer.counted(results, 4) == {"qrobust_lite": 10.0}


def test_workloads_and_peers_are_checked_as_they_parse(capsys):
    args = strongest_peer.parse_args([])
    assert args.workloads == ["training", "labels", "patches"] and args.peers == list(strongest_peer.PEERS)
    args = strongest_peer.parse_args(["--workloads", "patches, labels", "--peers", "pyqtorch;Qulacs (per sample)"])
    assert args.workloads == ["patches", "labels"] and args.peers == ["pyqtorch", "Qulacs (per sample)"]
    for argv in (["--workloads", "training,soft labels"], ["--peers", "pyqtorch,Qulacs (per sample)"]):
        with pytest.raises(SystemExit):
            strongest_peer.parse_args(argv)
        assert "unknown" in capsys.readouterr().err


def test_slow_methods_run_the_forward_passes_on_fewer_samples():
    gates = {"labels": ["labels' gates"], "patches": ["patches' gates"]}
    samples = {"labels": 60_000, "patches": 30}
    (qulacs,) = strongest_peer.cases("patches", "Qulacs (per sample)", [4], gates, samples)
    fewer = strongest_peer.FEWER["patches"]["Qulacs (per sample)"]
    assert qulacs["batch"] == min(30, fewer) and qulacs["rows"] == 768 * qulacs["batch"]
    assert qulacs["readout"] == "z" and qulacs["gates"] == gates["patches"] and qulacs["x"] == "xp"
    (fast,) = strongest_peer.cases("labels", "qrobust_lite", [4], gates, samples)
    assert fast["batch"] == fast["rows"] == 60_000 and fast["readout"] == "probs" and fast["n_qubits"] == 8
    training = strongest_peer.cases("training", "pyqtorch", [4, 6], {4: "g4", 6: "g6"}, samples)
    assert [(c["size"], c["batch"], c["gates"], c["coeff"]) for c in training] == [
        (4, 256, "g4", "c4"),
        (6, 256, "g6", "c6"),
    ]


def test_rounds_give_the_median_ratio_and_its_range(capsys):
    def row(rate: float) -> list[dict]:
        return [{"size": 4, "rate": rate, "max_difference": 0.0, "check": {"p": [0.5]}}]

    record = {
        "tolerance": 1e-8,
        "qubits": [4],
        "rounds": 3,
        "methods": {"default.qubit": row(1.0), "qrobust_lite": row(110.0), "pyqtorch": row(100.0)},
    }
    record["methods"]["Qulacs (per sample)"] = row(105.0)  # faster than pyqtorch's median, once
    record["strongest"] = {"4": "pyqtorch"}  # the fastest of the first round: the one timed again
    assert strongest_peer.ratio(record, 4) == (1.1, 1.1, 1.1, 1)  # one round: the ratio of the rates
    for fast, peer in [(120.0, 100.0), (90.0, 100.0)]:  # rounds 2 and 3
        strongest_peer.add_round(record, "qrobust_lite", [4], [{"size": 4, "rate": fast, "check": {"p": [0.5]}}])
        strongest_peer.add_round(record, "pyqtorch", [4], [{"size": 4, "rate": peer, "check": {"p": [0.5 + 1e-3]}}])
    fast_row, peer_row = record["methods"]["qrobust_lite"][0], record["methods"]["pyqtorch"][0]
    assert fast_row["rounds"] == [110.0, 120.0, 90.0] and fast_row["rate"] == 110.0
    assert peer_row["max_difference"] == pytest.approx(1e-3)  # a later round's outputs are checked too
    peer_row["max_difference"] = 0.0
    assert strongest_peer.strongest(record, 4)[1] == "pyqtorch"
    assert strongest_peer.ratio(record, 4) == pytest.approx((1.1, 0.9, 1.2, 3))
    assert strongest_peer.shown(strongest_peer.ratio(record, 4), 3) == "1.10x (0.90-1.20)"
    assert "| 4 | 110 | 100 | 105 | pyqtorch | 1.10x (0.90-1.20) |" in strongest_peer.table(record)
    assert "ran 3 rounds, one after the other in each" in strongest_peer.caption("training", record)
    peer_row["rounds"][2] = None  # a failed run counts in no round
    assert strongest_peer.shown(strongest_peer.ratio(record, 4), 3) == "1.15x (1.10-1.20; 2 of 3 rounds)"
    failed = {"qubits": [4], "methods": {"default.qubit": row(1.0), "pyqtorch": row(100.0)}}
    strongest_peer.add_round(failed, "pyqtorch", [4], {"error": "could not import"})
    assert failed["methods"]["pyqtorch"][0]["rounds"] == [100.0, None]
    assert strongest_peer.parse_args(["--rounds", "3"]).rounds == 3
    with pytest.raises(SystemExit):
        strongest_peer.parse_args(["--rounds", "0"])
    assert "invalid choice" in capsys.readouterr().err


def test_the_readme_block_has_a_table_per_workload_with_the_strongest_peer():
    def rows(rate: float, batch: int = 100, difference: float = 0.0) -> list[dict]:
        return [{"size": 4, "batch": batch, "rate": rate, "max_difference": difference}]

    results = {
        "machine": {"date": "today", "cpu": "a CPU", "cores": 2, "torch": "2.x"},
        "versions": {"qulacs": "0.6"},
        "tolerance": 1e-8,
        "qubits": [4],
        "methods": {"default.qubit": rows(1.0), "qrobust_lite": rows(300.0), "pyqtorch": rows(200.0)},
        "patches": {
            "tolerance": 1e-5,
            "qubits": [4],
            "samples": 100,
            "methods": {
                "default.qubit": rows(1.0, batch=10),
                "qrobust_lite": rows(100.0),
                "pyqtorch": rows(400.0, difference=1e-3),
                "Qulacs (per sample)": rows(50.0, batch=5),
                "TC-NG (cotengra, unitary once)": {"error": "unitary once needs the encoding gates first"},
            },
        },
    }
    lines = strongest_peer.readme_block(results).splitlines()
    assert lines[0] == strongest_peer.README_START and lines[-1] == strongest_peer.README_END
    assert lines[2] == (
        "Measured today (a CPU, 2 cores, torch 2.x; qulacs 0.6), training step, batch 256, samples/s; "
        "the first call (compilation, path search) is left out:"
    )
    assert "| 4 | 300 | 200 | pyqtorch | 1.50x |" in lines
    patch = lines.index(next(line for line in lines if line.startswith("Patch pass: `<Z_i>`")))
    assert lines[patch].endswith(
        "of each of 100 3x32x32 images, images/s; timed on fewer samples: Qulacs (per sample) 5; "
        "outputs within 1e-05 of default.qubit's:"
    )
    assert lines[patch + 2].startswith("| qubits | fast path | pyqtorch | Qulacs (per sample) | TC-NG (cotengra, ")
    # pyqtorch differs and the unitary-once set-up failed: neither is counted, Qulacs is the strongest
    assert lines[patch + 4] == "| 4 | 100 | - | 50 | - | Qulacs (per sample) | 2.00x |"
    assert list(strongest_peer.records(results)) == ["training", "patches"]
    del results["methods"]  # a run of the forward passes only: the measurement heads their first table
    assert (
        strongest_peer.readme_block(results)
        .splitlines()[2]
        .startswith("Measured today (a CPU, 2 cores, torch 2.x; qulacs 0.6), patch pass:")
    )


def test_the_peers_read_probabilities_and_z_in_pennylanes_order(tmp_path):
    """Qulacs (whose state puts qubit 0 last) and pyqtorch, on a forward job of both readouts,
    agree with default.qubit; the TensorCircuit-NG and PennyLane-JAX scripts are checked by
    the benchmark itself (a JAX process each)."""
    import numpy as np
    import peer_pyqtorch
    import peer_qulacs

    from qrobust_lite import circuits

    pytest.importorskip("qulacs")
    pytest.importorskip("pyqtorch")
    x, w = np.random.default_rng(0).uniform(0, np.pi, (5, 3)), np.random.default_rng(1).uniform(0, 1, 2 * 3 * 3)
    gates = fast_path.gate_list(circuits.entangling_ansatz, (2, 3, 3), 3)
    np.savez(tmp_path / "inputs.npz", x=x, w=w)

    @qml.qnode(qml.device("default.qubit", wires=3))
    def reference(sample):
        qml.AngleEmbedding(sample, wires=range(3), rotation="Y")
        circuits.entangling_ansatz(w.reshape(2, 3, 3), wires=range(3))
        return qml.probs(wires=range(3)), [qml.expval(qml.PauliZ(i)) for i in range(3)]

    expected = [reference(sample) for sample in x]
    case = {"size": 3, "n_qubits": 3, "gates": gates, "x": "x", "w": "w", "batch": 4, "rows": 4, "chunk": 3}
    job = {
        "workload": "labels",
        "inputs": str(tmp_path / "inputs.npz"),
        "min_time": 0.0,
        "cases": [case | {"readout": "probs", "check_rows": 3}, case | {"readout": "z", "check_rows": 2}],
    }
    for peer in (peer_qulacs, peer_pyqtorch):
        probs, z = peer.main(job)["results"]
        assert probs["batch"] == 4 and probs["rate"] > 0 and probs["first_call_s"] >= 0
        assert np.allclose(probs["check"]["values"], [np.asarray(e[0]) for e in expected[:3]], atol=1e-12)
        assert np.allclose(z["check"]["values"], [np.asarray(e[1]) for e in expected[:2]], atol=1e-12)
