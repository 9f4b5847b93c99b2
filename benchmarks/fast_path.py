"""Benchmark: qrobust_lite's fast path against stock PennyLane and the fastest peer simulator,
side by side in one run, each method in a process of its own.

    .venv/bin/python benchmarks/fast_path.py            # full table, about 8 minutes here
    .venv/bin/python benchmarks/fast_path.py --quick    # smaller, about 3 minutes
    .venv/bin/python benchmarks/fast_path.py --docs     # only rewrite README's table from the JSON
    pip install "qrobust-lite[bench]"                   # adds the TensorCircuit-NG column

Workloads (samples/s): (1) a training step, forward and backward of a batch of 256 at 4-12
qubits (AngleEmbedding RY, 4 layers of StronglyEntanglingLayers, loss = sum(probs @ c)); (2)
Born-rule probabilities of 60,000 images at 8 qubits; (3) random-circuit patches of 10,000
3x32x32 images (768 four-qubit circuits each). Methods: the fast path, ``default.qubit``,
``lightning.qubit``, a per-sample loop, TensorCircuit-NG (JAX, jit + vmap, x64) when installed,
and on a CUDA machine ``lightning.gpu`` and the fast path on the GPU.

Every method runs in its own process (JAX in a torch process slows torch by about 1.7x), on
the same inputs, and its outputs are checked against ``default.qubit``'s before its rate
counts. Slow methods are timed on a subset and their rate scaled; the subset sizes are printed.
Targets: at least 1x the peer at 4, 6 and 8 qubits, at least 3x ``default.qubit`` on every
training step and 10x on the dataset passes. ``--json`` writes everything, with the machine
and the date, for the book's Performance appendix (``benchmarks/fast_path.json``).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER = "TensorCircuit-NG"
SLOW = {"lightning.qubit", "per-sample loop", "lightning.gpu"}
REFERENCE = "default.qubit"
TOLERANCE = 1e-5
RESULTS = HERE / "fast_path.json"
README_START = "<!-- fast path: written by benchmarks/fast_path.py --docs -->"
README_END = "<!-- end of fast path -->"


# ---- in the worker processes ---------------------------------------------------------------


def first_call(work) -> tuple[object, float, float]:
    """``work()``, the peak memory of that first call above the process's memory before it
    (MiB): Linux's high-water mark of resident memory, reset just before the call, and its
    seconds. The first call includes what a method builds once (a compiled program, a traced
    block)."""

    def status(key: str) -> float:
        with open("/proc/self/status") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith(key)) / 1024

    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    start = time.perf_counter()
    result = work()
    return result, max(0.0, status("VmHWM") - before), time.perf_counter() - start


def torch_worker(job: dict) -> dict:
    """Time one torch-based method on every size of one workload; returns rates and outputs."""
    import numpy as np
    import torch

    from qrobust_lite.course import performance as pf

    def as_patches(out) -> "np.ndarray":  # any method's patch output -> (patches, 4)
        if isinstance(out, torch.Tensor):  # the fast path: (N, 12, 16, 16) channels
            n = out.shape[0]
            return out.reshape(n, 3, 4, 16, 16).permute(0, 1, 3, 4, 2).reshape(-1, 4).double().numpy()
        if isinstance(out[0], torch.Tensor) and out[0].ndim == 1 and len(out) == 4:
            return torch.stack(out, 1).double().numpy()  # four lists of <Z_i>
        return torch.stack([torch.stack(list(o)) for o in out]).double().numpy()  # per sample

    method, results = job["method"], []
    repeats = 10**6 if job["workload"] == "training" else 3  # a step: min_time decides, as for the peers
    for case in job["cases"]:
        if job["workload"] == "training":
            work = pf.training_step(method, case["n_qubits"], case["batch"])
            (loss, grad), memory, seconds = first_call(work)
            check = {"loss": loss, "grad": grad.detach().cpu().reshape(-1).tolist()}
        elif job["workload"] == "labels":
            work = pf.label_forward(method, case["n_qubits"], case["batch"])
            out, memory, seconds = first_call(work)
            check = {"values": out[: case["check_rows"]].detach().cpu().double().tolist()}
        else:
            work = pf.patch_forward(method, case["batch"])
            out, memory, seconds = first_call(work)
            check = {"values": as_patches(out)[: case["check_rows"]].tolist()}
        rate = pf.samples_per_second(work, case["batch"], job["min_time"], max_repeats=repeats)
        results.append(
            {
                "size": case["size"],
                "batch": case["batch"],
                "rate": rate,
                "check": check,
                "first_call_mib": memory,
                "first_call_s": seconds,
            }
        )
        del work
    return {"results": results}


# ---- in the parent process -----------------------------------------------------------------


def gate_list(template, weights_shape: tuple, n_qubits: int, weights=None) -> list:
    """The circuit ``AngleEmbedding(x, rotation="Y")`` + ``template`` as plain gates for the
    peer: (name, wires, params), a param being ["x", i], ["w", i] (flat weight index) or
    ["c", value] (when ``weights`` are given, their values)."""
    import pennylane as qml
    import torch

    kinds = {"RX", "RY", "RZ", "Rot", "CNOT", "IsingZZ"}
    tags = torch.arange(int(torch.tensor(weights_shape).prod()), dtype=torch.float64).reshape(weights_shape)
    tape = qml.tape.make_qscript(template)(tags if weights is None else weights, wires=range(n_qubits))

    def expand(op):
        if op.name in kinds:
            yield op
        else:
            for sub in op.decomposition():
                yield from expand(sub)

    gates = [["RY", [i], [["x", i]]] for i in range(n_qubits)]
    for op in (g for top in tape.operations for g in expand(top)):
        params = [["w", int(p)] if weights is None else ["c", float(p)] for p in op.parameters]
        gates.append([op.name, [int(w) for w in op.wires], params])
    return gates


def run_worker(job: dict) -> dict:
    """Run ``job`` in a fresh process (the peer's script for the peer) and return its JSON."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(job, handle)
    script = HERE / ("peer_tcng.py" if job["method"] == PEER else "fast_path.py")
    args = [sys.executable, str(script), handle.name] + ([] if job["method"] == PEER else ["--worker"])
    proc = subprocess.run(args, capture_output=True, text=True)
    os.unlink(handle.name)
    if proc.returncode:
        raise RuntimeError(f"{job['method']} on {job['workload']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def max_difference(a: dict, b: dict) -> float:
    import numpy as np

    return max(float(np.max(np.abs(np.asarray(a[k], dtype=float) - np.asarray(b[k], dtype=float)))) for k in b)


def peer_inputs(folder: Path, qubits: list[int], n_labels: int, n_images: int) -> tuple[Path, dict]:
    """The peer's inputs, from the same functions the torch methods use, and its gate lists."""
    import numpy as np

    from qrobust_lite import circuits
    from qrobust_lite.course import performance as pf

    arrays, gates = {}, {}
    for n in qubits:
        x, w, c = pf.training_inputs(n, 256)
        arrays.update({f"x{n}": x.numpy(), f"w{n}": w.reshape(-1).numpy(), f"c{n}": c.numpy()})
        gates[n] = gate_list(circuits.entangling_ansatz, tuple(w.shape), n)
    x, w, _ = pf.training_inputs(8, n_labels)
    arrays.update({"xl": x.numpy(), "wl": w.reshape(-1).numpy()})
    gates["labels"] = gate_list(circuits.entangling_ansatz, tuple(w.shape), 8)
    arrays.update({"xp": pf.patch_angles(pf.patch_inputs(n_images)).numpy(), "wp": np.zeros(1)})
    weights = circuits.random_circuit_weights(1, 4, 0)
    gates["patches"] = gate_list(
        lambda w, wires: circuits.random_circuit(w, wires, 0), tuple(weights.shape), 4, weights=weights
    )
    path = folder / "inputs.npz"
    np.savez(path, **arrays)
    return path, gates


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def machine() -> dict:
    import torch

    model = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def readme_block(results: dict) -> str:
    """The README's speed table, from a stored run (``--docs`` is its only writer)."""
    where, versions = results["machine"], results.get("peer_versions") or {}
    columns = [
        m for m in ("qrobust_lite", PEER, REFERENCE, "lightning.qubit", "per-sample loop") if m in results["training"]
    ]
    names = {
        "qrobust_lite": "fast path",
        PEER: PEER,
        REFERENCE: REFERENCE,
        "lightning.qubit": "lightning.qubit adjoint",
        "per-sample loop": "per-sample loop",
    }
    ratios = [m for m in (PEER, REFERENCE) if m in columns]
    lines = [
        README_START,
        "",
        f"Measured {where['date']} on this machine ({where['cpu']}, {where['cores']} cores, torch "
        f"{where['torch']}"
        + (f"; {PEER} {versions['tensorcircuit-ng']} on JAX {versions['jax']}" if versions else "")
        + "), samples/s, each method in its own process; every compared method's outputs are within "
        f"{results['tolerance']:g} of {REFERENCE}'s:",
        "",
        "| workload | "
        + " | ".join(names[m] for m in columns)
        + " | "
        + " | ".join(f"fast / {names[m]}" for m in ratios)
        + " |",
        "| --- |" + " ---: |" * (len(columns) + len(ratios)),
    ]

    def row(label: str, rates: dict, full: int | None = None) -> str:
        cells = [
            f"{rates[m]:,.0f}"
            + (f" ({full / rates[m]:,.1f} s)" if full and m in ("qrobust_lite", PEER, REFERENCE) else "")
            for m in columns
        ]
        return (
            f"| {label} | "
            + " | ".join(cells)
            + " | "
            + " | ".join(f"{rates['qrobust_lite'] / rates[m]:.2f}x" for m in ratios)
            + " |"
        )

    for i, n in enumerate(results["training"]["qrobust_lite"]):
        label = f"training step, batch 256, {n} qubits" if i == 0 else f"training step, {n} qubits"
        lines.append(row(label, {m: results["training"][m][n]["rate"] for m in columns}))
    for workload, label, full in (
        ("labels", "soft labels, 60,000 images at 8 qubits", 60_000),
        ("patches", "RQC patches, 10,000 3x32x32 images", 10_000),
    ):
        lines.append(row(label, {m: next(iter(results[workload][m].values()))["rate"] for m in columns}, full))
    memory = [
        f"{n} qubits: "
        + ", ".join(
            f"{names[m]} {results['training'][m][n]['first_call_mib']:,.0f} MiB"
            for m in ("qrobust_lite", PEER, REFERENCE)
            if m in columns
        )
        for n in ("10", "12")
        if n in results["training"]["qrobust_lite"]
    ]
    if memory:
        lines += [
            "",
            "Memory of a training step (batch 256): the peak of its first call (which builds what "
            "the method compiles or traces) above the memory before it: " + "; ".join(memory) + ".",
        ]
    return "\n".join(lines + ["", README_END])


def write_docs(results: dict) -> None:
    readme = (HERE.parent / "README.md").read_text()
    start, end = readme.index(README_START), readme.index(README_END) + len(README_END)
    (HERE.parent / "README.md").write_text(readme[:start] + readme_block(results) + readme[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, shorter timings")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--docs", action="store_true", help=f"only rewrite README.md's table from {RESULTS.name}")
    args = parser.parse_args()
    if args.docs:
        write_docs(json.loads(RESULTS.read_text()))
        print(f"README.md states the speeds of {RESULTS.name}")
        return
    from qrobust_lite.course import performance as pf

    gpu = list(pf.cuda_methods())
    peer = [PEER] if importlib.util.find_spec("tensorcircuit") and importlib.util.find_spec("jax") else []
    methods = list(pf.METHODS) + peer + gpu
    info = machine()
    print(
        f"{info['cpu']}, {info['cores']} cores, torch {info['torch']} ({info['torch_threads']} threads), "
        f"{info['date']}; peer: {peer or 'not installed (pip install qrobust-lite[bench])'}; GPU: {gpu or 'none'}"
    )
    min_time = 0.3 if args.quick else 1.0
    qubits = [4, 6, 8] if args.quick else [4, 6, 8, 10, 12]
    n_labels, n_images = (6_000, 1_000) if args.quick else (60_000, 10_000)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        inputs, gates = peer_inputs(Path(folder), qubits, n_labels, n_images)
        sizes = {
            "training": {m: {n: 256 if m not in SLOW else (16 if n <= 8 else 8) for n in qubits} for m in methods},
            "labels": {
                m: {
                    8: {
                        "qrobust_lite": n_labels,
                        "default.qubit": 3_000,
                        PEER: n_labels,
                        "qrobust_lite (cuda)": n_labels,
                    }.get(m, 200)
                }
                for m in methods
            },
            "patches": {
                m: {4: {"qrobust_lite": n_images, "default.qubit": 100, PEER: n_images, "lightning.qubit": 2}.get(m, 1)}
                for m in methods
                if m not in ("lightning.gpu", "qrobust_lite (cuda)")
            },
        }
        results = {"machine": info, "tolerance": TOLERANCE}
        for workload, per_method in sizes.items():
            out = {}
            for method, cases in per_method.items():
                job = {
                    "method": method,
                    "workload": workload,
                    "min_time": min_time,
                    "inputs": str(inputs),
                    "cases": [],
                }
                for size, batch in cases.items():
                    job["cases"].append(
                        {
                            "size": size,
                            "n_qubits": size,
                            "batch": batch,
                            "gates": gates[size if workload == "training" else workload],
                            "readout": "z" if workload == "patches" else "probs",
                            "x": {"training": f"x{size}", "labels": "xl", "patches": "xp"}[workload],
                            "w": {"training": f"w{size}", "labels": "wl", "patches": "wp"}[workload],
                            "coeff": f"c{size}",
                            "chunk": 4_096 if workload == "labels" else 16_384,
                            "check_rows": 64,
                        }
                    )
                print(f"  {workload}: {method} ...", flush=True)
                answer = run_worker(job)
                out[method] = {r["size"]: r for r in answer["results"]}
                if method == PEER:
                    results["peer_versions"] = answer["versions"]
            report(workload, out, qubits, n_labels, n_images)
            results[workload] = out
    print(f"\n(measured in {time.perf_counter() - start:.0f} s)")
    if args.json:  # rates, differences and memory; not the compared outputs
        for workload in sizes:
            for per_size in results[workload].values():
                for result in per_size.values():
                    result.pop("check")
        args.json.write_text(json.dumps(results, indent=1, default=str))


def agreement(out: dict, method: str, size) -> str:
    """How far ``method``'s outputs are from default.qubit's, or why they are not compared."""
    if method == REFERENCE:
        return "reference"
    mine, ref = out[method][size]["check"], out[REFERENCE][size]["check"]
    if method in ("lightning.qubit", "lightning.gpu") and "loss" in ref:
        return "other loss"  # sum of <Z_i>: adjoint gradients need expectations
    if "loss" in ref and method in SLOW:
        return "other batch"
    rows = min(len(mine.get("values", [])), len(ref.get("values", []))) if "values" in ref else None
    if rows is not None:
        mine, ref = {"values": mine["values"][:rows]}, {"values": ref["values"][:rows]}
    diff = max_difference(mine, ref)
    out[method][size]["max_difference"] = diff
    return f"{diff:.0e}" if diff <= TOLERANCE else f"DISAGREES ({diff:.1e})"


def report(workload: str, out: dict, qubits: list[int], n_labels: int, n_images: int) -> None:
    methods = list(out)
    if workload == "training":
        rows = []
        for n in qubits:
            rates = {m: out[m][n]["rate"] for m in methods}
            row = [n] + [f"{rates[m]:,.0f}" for m in methods]
            row.append(f"{rates['qrobust_lite'] / rates[REFERENCE]:.1f}x")
            if PEER in rates:
                row.append(f"{rates['qrobust_lite'] / rates[PEER]:.2f}x")
            checked = {m: agreement(out, m, n) for m in methods if m != REFERENCE}
            row.append(", ".join(f"{m}: {a}" for m, a in checked.items() if a not in ("other loss", "other batch")))
            rows.append(row)
        header = ["qubits"] + methods + ["fast / default.qubit"] + (["fast / peer"] if PEER in methods else [])
        table(
            "Training step, batch 256 (samples/s; slow methods timed on 8-16 samples, and not compared:\n"
            "other batches, and lightning's adjoint gradients need a loss of expectation values)",
            header + ["largest difference from default.qubit"],
            rows,
        )
        return
    size = next(iter(out[REFERENCE]))
    full = n_labels if workload == "labels" else n_images
    title = {
        "labels": f"Soft labels: probabilities of {n_labels:,} images at 8 qubits",
        "patches": f"Random-circuit patches of {n_images:,} 3x32x32 images (768 circuits each)",
    }[workload]
    rows = [
        [
            m,
            f"{out[m][size]['rate']:,.0f}",
            f"{full / out[m][size]['rate']:,.1f}",
            f"{out['qrobust_lite'][size]['rate'] / out[m][size]['rate']:.2f}x",
            agreement(out, m, size),
        ]
        for m in methods
    ]
    table(title, ["method", "images/s", f"seconds for {full:,}", "fast / method", "agreement"], rows)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        # PennyLane imports JAX whenever it is installed (the bench extra): keep it out of the
        # torch methods' processes, as the peer's process keeps torch out.
        sys.modules["jax"] = None
        with open(sys.argv[1]) as handle:
            print(json.dumps(torch_worker(json.load(handle))))
    else:
        main()
