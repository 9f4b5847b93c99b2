"""Benchmark: the fast path's training step against each peer set up as its documentation
recommends, to name the strongest peer at every size.

    .venv/bin/python benchmarks/strongest_peer.py --json benchmarks/strongest_peer.json   # ~10 min
    .venv/bin/python benchmarks/strongest_peer.py --quick                                 # 4, 8 qubits

The step of ``fast_path.py`` (AngleEmbedding RY + 4 StronglyEntanglingLayers, batch 256,
float64, loss = sum(probabilities @ c), forward and backward) at 4-12 qubits, by:

- the fast path (torch) and ``default.qubit`` (torch, backprop: the reference);
- TensorCircuit-NG on JAX in three set-ups (``peer_tcng.py``): its default greedy contractor
  with vmap (what ``fast_path.py`` compares with), cotengra with vmap, and cotengra with the
  weight block's unitary built once per step and applied to the batch;
- PennyLane ``default.qubit`` under ``jax.jit`` with broadcasting (``peer_pennylane_jax.py``);
- pyqtorch, batched through its parameters, with torch autograd (``peer_pyqtorch.py``);
- Qulacs, one sample at a time with its own backpropagation (``peer_qulacs.py``).

Each method runs in a process of its own (JAX in a torch process slows torch), on the same
inputs; its loss and gradient must be within :data:`TOLERANCE` of ``default.qubit``'s before its
rate counts. The first call (compilation, path search) is timed apart and left out of the rate,
as is its peak memory. TorchQuantum is not here: its package requires TensorFlow, PySCF, Qiskit
below 1.0 and torchvision, which cannot share this environment.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RESULTS = HERE / "strongest_peer.json"
README_START = "<!-- strongest peer: written by benchmarks/strongest_peer.py --docs -->"
README_END = "<!-- end of strongest peer -->"
TOLERANCE = 1e-8
PEERS = {
    "TC-NG (greedy, vmap)": ("peer_tcng.py", "vmap"),
    "TC-NG (cotengra, vmap)": ("peer_tcng.py", "vmap-cotengra"),
    "TC-NG (cotengra, unitary once)": ("peer_tcng.py", "unitary-cotengra"),
    "default.qubit + jax.jit": ("peer_pennylane_jax.py", None),
    "pyqtorch": ("peer_pyqtorch.py", None),
    "Qulacs (per sample)": ("peer_qulacs.py", None),
}
TORCH_WORKER = """
import json, sys, time, torch
from qrobust_lite.course import performance as pf
method, qubits, min_time = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
out = []
for n in qubits:
    step = pf.training_step(method, n, 256)
    start = time.perf_counter()
    loss, grad = step()
    first = time.perf_counter() - start
    out.append({"size": n, "rate": pf.samples_per_second(step, 256, min_time=min_time),
                "check": {"loss": loss, "grad": grad.reshape(-1).tolist()}, "first_call_s": first})
print(json.dumps({"results": out}))
"""


def run(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise RuntimeError(f"{args[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def differences(result: dict, reference: dict) -> float:
    import numpy as np

    loss = abs(result["check"]["loss"] - reference["check"]["loss"])
    grad = np.abs(np.asarray(result["check"]["grad"]) - np.asarray(reference["check"]["grad"])).max()
    return float(max(loss, grad))


def counted(results: dict, n: int) -> dict[str, float]:
    """``{method: samples/s}`` at ``n`` qubits of the methods whose outputs matched the reference."""
    rates = {}
    for name, rows in results["methods"].items():
        row = next((r for r in rows if r["size"] == n), None) if isinstance(rows, list) else None
        if row is not None and row.get("max_difference", 0.0) <= results["tolerance"]:
            rates[name] = row["rate"]
    return rates


def readme_block(results: dict) -> str:
    """The README's strongest-peer table, from a stored run (``--docs`` is its only writer)."""
    where, versions = results["machine"], results.get("versions", {})
    peers = [m for m in results["methods"] if m not in ("qrobust_lite", "default.qubit")]
    lines = [
        README_START,
        "",
        f"Measured {where['date']} ({where['cpu']}, {where['cores']} cores, torch {where['torch']}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
        + "), training step, batch 256, samples/s; the first call (compilation, path search) is left out:",
        "",
        "| qubits | fast path | " + " | ".join(peers) + " | strongest peer | fast / strongest |",
        "| ---: |" + " ---: |" * (len(peers) + 1) + " --- | ---: |",
    ]
    for n in results["qubits"]:
        rates = counted(results, n)
        others = {m: rates[m] for m in peers if m in rates}
        best = max(others, key=others.get) if others else None
        cells = [f"{rates[m]:,.0f}" if m in rates else "-" for m in ["qrobust_lite", *peers]]
        ratio = f"{rates['qrobust_lite'] / others[best]:.2f}x" if best and "qrobust_lite" in rates else "-"
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {best or '-'} | {ratio} |")
    return "\n".join(lines + ["", README_END])


def write_docs(readme: Path = HERE.parent / "README.md") -> None:
    text = readme.read_text()
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + readme_block(json.loads(RESULTS.read_text())) + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 and 8 qubits, shorter timings")
    parser.add_argument(
        "--qubits", type=lambda text: [int(n) for n in text.split(",")], help="sizes instead of 4-12 (e.g. 4,6)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--docs", action="store_true", help=f"only rewrite README.md's table from {RESULTS.name}")
    parser.add_argument("--peers", help="names of PEERS to run, separated by ';' (names hold commas; default: all)")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.peers.split(";")] if args.peers else list(PEERS)
    unknown = [name for name in chosen if name not in PEERS]
    if unknown:  # before minutes of timing, not after
        parser.error(f"--peers: unknown {unknown}; choose from {list(PEERS)}")
    if args.docs:
        write_docs()
        return 0
    from fast_path import machine, peer_inputs

    qubits, min_time = ([4, 8], 0.5) if args.quick else ([4, 6, 8, 10, 12], 1.5)
    qubits = args.qubits or qubits
    results: dict = {"machine": machine(), "tolerance": TOLERANCE, "qubits": qubits, "methods": {}}
    for method in ("default.qubit", "qrobust_lite"):
        results["methods"][method] = run(["-c", TORCH_WORKER, method, json.dumps(qubits), str(min_time)])["results"]
        print(f"{method}: done", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        inputs, gates = peer_inputs(Path(folder), qubits, 256, 1)
        for name, (script, config) in ((k, PEERS[k]) for k in chosen):
            job = {
                "workload": "training",
                "inputs": str(inputs),
                "min_time": min_time,
                "config": config,
                "cases": [
                    {
                        "size": n,
                        "n_qubits": n,
                        "gates": gates[n],
                        "readout": "probs",
                        "x": f"x{n}",
                        "w": f"w{n}",
                        "coeff": f"c{n}",
                        "batch": 256,
                    }
                    for n in qubits
                ],
            }
            (Path(folder) / "job.json").write_text(json.dumps(job))
            try:
                answer = run([str(HERE / script), str(Path(folder) / "job.json")])
            except RuntimeError as error:  # a peer that cannot run here is named, not hidden
                results["methods"][name] = {"error": str(error)[-500:]}
                print(f"{name}: FAILED {str(error)[-300:]}", flush=True)
                continue
            results["methods"][name] = answer["results"]
            results.setdefault("versions", {}).update(answer["versions"])
            print(f"{name}: done", flush=True)
    reference = {r["size"]: r for r in results["methods"]["default.qubit"]}
    print(f"\ntraining step, batch 256, samples/s (first call, s); every rate within {TOLERANCE:g} of default.qubit")
    for n in qubits:
        rates = {}
        for name, rows in results["methods"].items():
            if isinstance(rows, dict):
                continue
            row = next(r for r in rows if r["size"] == n)
            row["max_difference"] = differences(row, reference[n])
            if row["max_difference"] <= TOLERANCE:
                rates[name] = row["rate"]
            print(
                f"{n:>3} qubits  {name:<32}{row['rate']:>11,.0f}  ({row['first_call_s']:.1f} s)"
                + ("" if row["max_difference"] <= TOLERANCE else f"  DIFFERS by {row['max_difference']:.1e}")
            )
        peers = {k: v for k, v in rates.items() if k not in ("qrobust_lite", "default.qubit")}
        if peers and "qrobust_lite" in rates:
            best = max(peers, key=peers.get)
            ratio = rates["qrobust_lite"] / peers[best]
            print(f"{n:>3} qubits  strongest peer: {best}; fast path / strongest = {ratio:.2f}x\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
