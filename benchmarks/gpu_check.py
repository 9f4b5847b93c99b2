"""The GPU check, in one go (``make gpu-check``), for the day a CUDA machine is lent for minutes.

    python3 benchmarks/gpu_check.py --json benchmarks/gpu_check.json   # on the GPU machine
    python3 benchmarks/gpu_check.py --docs                             # here: README from the JSON
    python3 benchmarks/gpu_check.py --device cpu --quick --json /tmp/x.json   # its logic, here

On a machine without CUDA it says so and exits 0. With CUDA, within ``--budget`` seconds
(default 420, so that a 10-minute call has room to spare), it:

1. checks the fast path on the GPU against the CPU, float64: the Born-rule probabilities and the
   gradient of a training step's loss w.r.t. the weights, at 4 to 16 qubits (the run fails,
   exit 1, when they differ by more than :data:`TOLERANCE`);
2. runs every ``qrobust-lite run`` experiment at smoke scale (:func:`chapters`) where torch puts
   the package's models by default, the GPU, as a learner on a GPU machine (Colab's) gets them:
   whether each runs, and its seconds;
3. runs one slice of a paper-scale experiment on the GPU, the poisoning paper's QNN runs on MNIST
   at full scale (seed 0, as many noise levels as 120 s allow), each beside the stored CPU run of
   the same configuration and the stored runs' median seconds (``results/poisoning-full-mnist``).
   Full scale needs the official MNIST training files: ``--data-root``, by default ``.whl/data``
   where ``make gpu-wheels`` puts them, else the package's own search (:mod:`qrobust_lite.data`);
4. runs ``lightning.gpu`` on the same step when its plugin is installed and runs a circuit
   (its cuQuantum wheels exceed what can be carried to a machine that reaches no registry, so
   usually it reports why not);
5. measures the training step (AngleEmbedding RY + 4 StronglyEntanglingLayers, the benchmark's
   circuit) at 4-16 qubits and batches of 256-4,096 on the GPU and on the CPU, in the time left
   (samples/s; the CPU is skipped where a step's states would pass :data:`CPU_STATE_BYTES`, and
   a measurement that would outrun the budget is skipped, :func:`predicted_seconds`).

Each stage stops where the budget runs out and says what it skipped. A size, experiment or run
that fails (out of GPU memory, say) is recorded with its error and the next one runs; a stage
that fails is recorded under ``"errors"`` and the next stage runs. The record is written after
every stage, so a run cut short keeps what it measured (on a lent machine, write it where files
come back: ``make gpu-check GPU_JSON=...``); an earlier record is overwritten only with
``--force``. ``--docs`` turns the stored record into the README's GPU section, which the
Performance appendix shows too. The machine needs torch (any build with CUDA) and PennyLane with
its needs: ``make gpu-wheels`` gathers the wheels for Python 3.12 that such a machine lacks, and
the data (see ``scripts/gpu_wheels.py``). Exit status 1 when the GPU and the CPU disagree or
anything failed.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # the package from this checkout: the GPU machine gets no install

RESULTS = HERE / "gpu_check.json"
#: Where ``make gpu-wheels`` puts the official MNIST training files for the paper slice.
CARRIED_DATA = ROOT / ".whl" / "data"
STORED_CPU_RUNS = ROOT / "results" / "poisoning-full-mnist" / "poisoning.json"
TOLERANCE = 1e-8
#: The largest states (bytes, complex128, the whole batch) a CPU step is timed with.
CPU_STATE_BYTES = 2 * 2**30
README_START = "<!-- gpu check: written by benchmarks/gpu_check.py --docs -->"
README_END = "<!-- end of gpu check -->"
#: Sizes of each stage: (qubits, batch) pairs to compare, and the grid to time.
SIZES = {
    "full": {"agree": [(4, 64), (8, 64), (12, 64), (16, 8)], "qubits": [4, 8, 12, 16], "batches": [256, 1024, 4096]},
    "quick": {"agree": [(4, 8), (6, 8)], "qubits": [4, 6], "batches": [8, 16]},
}


class Budget:
    """Seconds left of the run; a stage asks before each piece of work."""

    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()

    def stop_after(self, seconds: float) -> float:
        """The ``time.perf_counter()`` by which a stage given ``seconds`` stops starting work: at
        most that, and 10 s before the run's own end."""
        return time.perf_counter() + min(seconds, max(0.0, self.left() - 10))


def machine(device: str) -> dict:
    import pennylane as qml
    import torch

    found = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pennylane": qml.__version__,
        "cpu_cores": os.cpu_count(),
        "device": device,
    }
    if device == "cuda":
        found["gpu"] = torch.cuda.get_device_name(0)
        found["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
        found["cuda"] = torch.version.cuda
    return found


def step_outputs(n_qubits: int, batch: int, device: str) -> tuple:
    """The training step's probabilities (B, 2**n) and weight gradient, float64, on ``device``."""
    import torch

    from qrobust_lite import circuits, fastpath
    from qrobust_lite.course import performance

    x, w, coeff = performance.training_inputs(n_qubits, batch)
    x, w, coeff = x.to(device), w.to(device).requires_grad_(), coeff.to(device)
    block = fastpath.compile_block(circuits.entangling_ansatz, tuple(w.shape), n_qubits)
    probs = fastpath.born_probabilities(block, w, x, performance.encode_ry)
    (grad,) = torch.autograd.grad((probs @ coeff).sum(), w)
    return probs.detach().cpu(), grad.cpu()


def agreement(device: str, sizes: list[tuple[int, int]], budget: Budget) -> list[dict]:
    """Largest differences between ``device`` and the CPU, per size."""
    rows = []
    for n, batch in sizes:
        if budget.left() < 30:
            rows.append({"qubits": n, "batch": batch, "skipped": "time budget"})
            continue
        try:
            (p_dev, g_dev), (p_cpu, g_cpu) = step_outputs(n, batch, device), step_outputs(n, batch, "cpu")
        except Exception as error:  # recorded; the next size runs (a failure all the same)
            rows.append({"qubits": n, "batch": batch, "error": failed(error)})
            continue
        rows.append(
            {
                "qubits": n,
                "batch": batch,
                "probabilities": float((p_dev - p_cpu).abs().max()),
                "gradient": float((g_dev - g_cpu).abs().max()),
            }
        )
    return rows


def failed(error: BaseException) -> str:
    """An error as the record keeps it: its type and the start of its message (its traceback goes
    to the log). Also asks torch to give the GPU memory it caches back (what the failed work still
    holds is freed when its handler ends); after a fatal CUDA error that request fails too, and is
    let go."""
    import torch

    traceback.print_exception(error)
    message = f"{type(error).__name__}: {str(error).strip()[:300]}"
    with contextlib.suppress(RuntimeError):
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return message


def state_bytes(n_qubits: int, batch: int) -> int:
    return 16 * batch * 2**n_qubits


#: How much longer a training step takes per added qubit, at most, as measured on the course's
#: 2-core machine at batch 256 (4 to 16 qubits: 2.0x, 2.2x, then 2.8x per qubit).
GROWTH_PER_QUBIT = 3.0


def predicted_seconds(last: tuple[int, int, float] | None, n_qubits: int, batch: int) -> float:
    """Seconds a measurement at (``n_qubits``, ``batch``) will take (its warm-up and one timed
    step), from the last one, ``(qubits, batch, samples/s)``: a step's time grows with the batch
    and by :data:`GROWTH_PER_QUBIT` per added qubit. 0 when nothing was measured yet.

    >>> predicted_seconds((12, 256, 1000.0), 16, 512)   # 2 steps x 0.512 s x 3**4
    82.944
    """
    if last is None:
        return 0.0
    n0, _, rate = last
    return round(2 * batch / rate * GROWTH_PER_QUBIT ** max(0, n_qubits - n0), 6)


def speeds(device: str, qubits: list[int], batches: list[int], budget: Budget, min_time: float) -> list[dict]:
    """Training-step samples/s on ``device`` (key ``"device"``) and on the CPU (``"cpu"``), per
    (qubits, batch); ``None`` with a ``"..._skipped"`` reason where a measurement was left out: its
    states would not fit the CPU, it would outrun the budget (:func:`predicted_seconds`), or it
    failed."""
    from qrobust_lite.course import performance

    method = "qrobust_lite (cuda)" if device == "cuda" else "qrobust_lite"
    rows: list[dict] = []
    last: dict[str, tuple[int, int, float] | None] = {"device": None, "cpu": None}
    for n in qubits:
        for batch in batches:
            row: dict = {"qubits": n, "batch": batch}
            for where, name in (("device", method), ("cpu", "qrobust_lite")):
                row[where] = None
                predicted = predicted_seconds(last[where], n, batch)
                if where == "cpu" and state_bytes(n, batch) > CPU_STATE_BYTES:
                    row["cpu_skipped"] = f"states of {state_bytes(n, batch) / 2**30:.0f} GiB"
                elif budget.left() < max(20.0, predicted):
                    row[f"{where}_skipped"] = "time budget" + (f" (about {predicted:.0f} s)" if predicted > 20 else "")
                else:
                    try:
                        step = performance.training_step(name, n, batch)
                        row[where] = performance.samples_per_second(step, batch, min_time=min_time, max_repeats=10)
                        last[where] = (n, batch, row[where])
                    except Exception as error:  # out of memory, say: recorded, and the next size runs
                        row[f"{where}_skipped"] = failed(error)
            rows.append(row)
    return rows


def lightning_gpu(budget: Budget, min_time: float) -> dict:
    """``lightning.gpu``'s training step at 4 and 8 qubits (batch 256), or why it did not run."""
    from qrobust_lite import backend
    from qrobust_lite.course import performance

    why = backend.probe_lightning_gpu()
    if why is not None:
        return {"ran": False, "why": why}
    rates = {}
    for n in (4, 8):
        if budget.left() < 30:
            break
        rates[str(n)] = performance.samples_per_second(
            performance.training_step("lightning.gpu", n, 256), 256, min_time=min_time, max_repeats=3
        )
    return {"ran": True, "rates": rates}


def paper_slice(scale: str, budget: Budget, seconds: float, data_root: Path | None = None) -> dict:
    """The poisoning paper's MNIST QNN runs at ``scale``, seed 0, for at most ``seconds``, on the
    MNIST files under ``data_root`` (None: the package's own search); each beside the stored CPU
    run of the same config (its validation accuracy) and the stored runs' median seconds."""
    from qrobust_lite import data, poisoning

    root = None if data_root is None else str(data_root)
    configs = [c for c in poisoning.grid(scale, datasets=["mnist"], models=["QNN"], data_root=root) if c.seed == 0]
    if not configs:
        raise ValueError(f"the poisoning grid at scale {scale!r} has no MNIST QNN run of seed 0")
    stored_runs, stored = [], None
    if STORED_CPU_RUNS.exists():
        record = json.loads(STORED_CPU_RUNS.read_text())
        stored_runs = [r for r in record["runs"] if r["model"] == "QNN" and r["poison"] == configs[0].poison]
        times = sorted(r["seconds"] for r in stored_runs)
        if times:
            stored = {"median_seconds": times[len(times) // 2], "machine": record["machine"], "scale": record["scale"]}
        if record["scale"] != scale:  # another scale's runs give no accuracy to compare with
            stored_runs = []
    done = []
    stop = budget.stop_after(seconds)
    for config in configs:
        if time.perf_counter() > stop:
            break
        start = time.perf_counter()
        try:
            result = poisoning.run(config)
        except Exception as error:  # recorded, and the next run goes on (a failure all the same)
            done.append({"alpha": config.alpha, "error": failed(error)})
            continue
        same = [r["val_accuracy"] for r in stored_runs if (r["alpha"], r["seed"]) == (config.alpha, config.seed)]
        done.append(
            {
                "alpha": config.alpha,
                "seconds": time.perf_counter() - start,
                "val_accuracy": result["val_accuracy"],
                "stored_val_accuracy": same[0] if same else None,  # the same run on the CPU
            }
        )
    return {
        "experiment": f"poisoning, MNIST, QNN, {scale} scale, seed 0",
        "data": data.available_sources("mnist", "train", root)[0],
        "of": len(configs),
        "runs": done,
        "stored_cpu": stored,
    }


def chapters(budget: Budget, seconds: float, names: list[str] | None = None) -> list[dict]:
    """The ``qrobust-lite run`` experiments ``names`` (None: all of them) at smoke scale, each on
    its default datasets and device (:func:`qrobust_lite.backend.torch_device`: the GPU where
    torch sees one), within ``seconds``: per experiment its seconds, or its error, or why it was
    skipped. Their files go to a temporary folder."""
    import tempfile

    from qrobust_lite.course import cli

    rows = []
    stop = budget.stop_after(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or list(cli.RUNNERS):
            if time.perf_counter() > stop:
                rows.append({"experiment": name, "skipped": "time budget"})
                continue
            start = time.perf_counter()
            try:
                datasets = cli.RUNNERS[name].default_datasets()
                cli.run_experiment(name, "smoke", Path(tmp) / name, None, datasets, {"executor": "local", "n_jobs": -1})
                rows.append({"experiment": name, "seconds": time.perf_counter() - start})
            except Exception as error:  # recorded, and the next experiment runs (a failure all the same)
                rows.append({"experiment": name, "error": failed(error)})
    return rows


#: What a stage leaves in the record until it finishes, and if it fails (its error then goes
#: under ``"errors"``): a run cut short still gives a record every reader can show.
NOT_DONE: dict = {
    "agreement": [],
    "chapters": [],
    "training": [],
    "lightning.gpu": {"ran": False, "why": "the stage did not finish"},
    "paper_slice": {"experiment": "the poisoning paper's MNIST QNN runs", "of": 0, "runs": [], "stored_cpu": None},
}


def check(
    device: str, quick: bool, budget_seconds: float, data_root: Path | None = None, json_path: Path | None = None
) -> dict:
    """Every stage, in turn; the record, also written to ``json_path`` after each stage."""
    sizes = SIZES["quick" if quick else "full"]
    budget = Budget(budget_seconds)
    min_time = 0.05 if quick else 0.3
    stages: dict[str, Callable[[], object]] = {  # the timing grid last: it takes the time left
        "agreement": lambda: agreement(device, sizes["agree"], budget),
        "chapters": lambda: chapters(budget, 20 if quick else 100, ["poisoning"] if quick else None),
        "paper_slice": lambda: paper_slice("smoke" if quick else "full", budget, 20 if quick else 120, data_root),
        "lightning.gpu": lambda: (
            lightning_gpu(budget, min_time) if device == "cuda" else {"ran": False, "why": "no GPU"}
        ),
        "training": lambda: speeds(device, sizes["qubits"], sizes["batches"], budget, min_time),
    }
    record: dict = {"machine": machine(device), "tolerance": TOLERANCE, "errors": {}, **copy.deepcopy(NOT_DONE)}
    for name, stage in stages.items():
        try:
            record[name] = stage()
        except Exception as error:  # one stage's failure must not cost the others' measurements
            record["errors"][name] = failed(error)
        record["seconds"] = budget_seconds - budget.left()
        if json_path is not None:
            json_path.write_text(json.dumps(record, indent=1) + "\n")
    return record


def failures(record: dict) -> list[str]:
    """What went wrong: sizes at which the device and the CPU disagree by more than the
    tolerance (or by NaN) or could not be compared, experiments that failed at smoke scale, runs
    of the paper slice that failed, and stages that failed."""
    wrong = [
        f"{row['qubits']} qubits: "
        + (
            f"not compared ({row['error']})"
            if "error" in row
            else f"probabilities differ by {row['probabilities']:.1e}, gradients by {row['gradient']:.1e}"
        )
        for row in record["agreement"]
        if "skipped" not in row
        and ("error" in row or not row["probabilities"] <= record["tolerance"] >= row["gradient"])  # NaN fails
    ]
    wrong += [
        f"{row['experiment']} at smoke scale: {row['error']}" for row in record.get("chapters", []) if "error" in row
    ]
    wrong += [
        f"paper slice, alpha {row['alpha']:g}: {row['error']}"
        for row in record.get("paper_slice", {}).get("runs", [])
        if "error" in row
    ]
    return wrong + [f"stage {name} failed: {error}" for name, error in record.get("errors", {}).items()]


def compared(record: dict) -> list[dict]:
    """The agreement rows that compared the device with the CPU."""
    return [r for r in record["agreement"] if "skipped" not in r and "error" not in r]


def worst_difference(record: dict) -> float:
    """The largest difference between the device and the CPU over the compared sizes
    (probabilities or gradients); NaN where none was compared or any difference is NaN."""
    values = [max(r["probabilities"], r["gradient"], key=lambda v: (math.isnan(v), v)) for r in compared(record)]
    return max(values, key=lambda v: (math.isnan(v), v), default=math.nan)


#: The columns of the training-step table.
TRAINING_HEADER = ["qubits", "batch", "GPU", "CPU", "GPU / CPU", "not measured"]


def training_rows(record: dict) -> list[list[str]]:
    """The training-step table (:data:`TRAINING_HEADER`): samples/s on the GPU and on the CPU,
    their ratio, and why a measurement was left out; the README's section and the Performance
    appendix show it."""
    rows = []
    for row in record["training"]:
        gpu, cpu = row.get("device"), row.get("cpu")
        why = [f"{name}: {row[key]}" for name, key in (("GPU", "device_skipped"), ("CPU", "cpu_skipped")) if key in row]
        rows.append(
            [
                str(row["qubits"]),
                f"{row['batch']:,}",
                f"{gpu:,.0f}" if gpu else "-",
                f"{cpu:,.0f}" if cpu else "-",
                f"{gpu / cpu:.1f}x" if gpu and cpu else "-",
                "; ".join(why),
            ]
        )
    return rows


def readme_block(record: dict | None) -> str:
    """The README's GPU section: the stored check, or that none has run."""
    lines = [README_START, ""]
    if record is None:
        lines.append("No GPU has run `make gpu-check` yet: the fast path on CUDA is untested and unmeasured.")
        return "\n".join(lines + ["", README_END])
    where = record["machine"]
    agree = compared(record)
    worst = worst_difference(record)
    lines += [
        f"Checked {where['date']} on {where.get('gpu', where['device'])} (torch {where['torch']}, "
        f"PennyLane {where['pennylane']}, {where['cpu_cores']} CPU cores): the fast path on the GPU "
        f"agrees with the CPU to {worst:.1e} (probabilities and gradients, "
        f"{', '.join(str(r['qubits']) for r in agree)} qubits). Training step, samples/s:",
        "",
        "| " + " | ".join(TRAINING_HEADER) + " |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in training_rows(record)]
    slice_ = record["paper_slice"]
    done = [r for r in slice_["runs"] if "seconds" in r]
    if done:
        mean = sum(r["seconds"] for r in done) / len(done)
        stored = slice_["stored_cpu"]
        lines += [
            "",
            f"{slice_['experiment']}: {len(done)} of {slice_['of']} runs, {mean:.1f} s each on the GPU"
            + (
                f" (stored {stored['scale']} CPU runs: median {stored['median_seconds']:.1f} s on {stored['machine']})."
                if stored
                else "."
            )
            + " Validation accuracy by label-flip share alpha, GPU (stored CPU run): "
            + ", ".join(
                f"{r['alpha']:g}: {r['val_accuracy']:.3f}"
                + (f" ({r['stored_val_accuracy']:.3f})" if r["stored_val_accuracy"] is not None else "")
                for r in done
            )
            + ".",
        ]
    tried = record.get("chapters", [])
    ran = [r for r in tried if "seconds" in r]
    if tried:
        skipped = [r["experiment"] for r in tried if "skipped" in r]
        lines += [
            "",
            f"`qrobust-lite run` experiments at smoke scale, on the device a learner's GPU machine gives the "
            f"package's models: {len(ran)} of {len(tried)} ran"
            + (": " + ", ".join(f"{r['experiment']} {r['seconds']:.0f} s" for r in ran) if ran else "")
            + (f"; skipped for time: {', '.join(skipped)}" if skipped else "")
            + ".",
        ]
    gpu_plugin = record["lightning.gpu"]
    lines += ["", "`lightning.gpu`: " + ("ran" if gpu_plugin["ran"] else f"not run ({gpu_plugin['why']})") + "."]
    if failures(record):
        lines += ["", "What failed:", "", *(f"- {line}" for line in failures(record))]
    return "\n".join(lines + ["", README_END])


def write_docs(readme: Path = ROOT / "README.md") -> None:
    record = json.loads(RESULTS.read_text()) if RESULTS.exists() else None
    text = readme.read_text()
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + readme_block(record) + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=RESULTS, help="where the record goes")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: the logic, here")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds): the tests")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for every stage together")
    parser.add_argument(
        "--data-root",
        type=Path,
        default=CARRIED_DATA if CARRIED_DATA.is_dir() else None,
        help="official MNIST files for the paper slice (default: .whl/data if there, else the package's search)",
    )
    parser.add_argument("--docs", action="store_true", help="only rewrite the README's section from the JSON")
    parser.add_argument("--force", action="store_true", help="overwrite an earlier record at --json")
    args = parser.parse_args(argv)
    if args.docs:
        write_docs()
        return 0
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"no CUDA device here (torch {torch.__version__}, built for CUDA {torch.version.cuda}): nothing to check")
        return 0
    if not args.json.parent.is_dir():  # checked before minutes of work, not after
        parser.error(f"--json: the folder {args.json.parent} does not exist; create it first")
    if args.device == "cpu" and args.json.resolve() == RESULTS.resolve():
        parser.error(
            f"--device cpu: a CPU standing in for the GPU is no GPU check; give --json a path other than {RESULTS}"
        )
    if args.json.exists() and not args.force:
        parser.error(f"--json: {args.json} already exists; pass --force to overwrite it")
    record = check(args.device, args.quick, args.budget, args.data_root, args.json)
    print(readme_block(record).replace(README_START, "").replace(README_END, "").strip())
    print(f"written: {args.json} ({record['seconds']:.0f} s)")
    wrong = failures(record)
    for line in wrong:
        print("FAILED:", line)
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
