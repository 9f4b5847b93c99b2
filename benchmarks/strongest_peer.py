"""Benchmark: the fast path against every peer set up as its documentation recommends.

On the training step, the soft-label pass and the patch pass, to name the strongest peer at
every size.

    .venv/bin/python benchmarks/strongest_peer.py --rounds 3 --json benchmarks/strongest_peer.json  # ~30 min
    .venv/bin/python benchmarks/strongest_peer.py --quick                                 # a few minutes
    .venv/bin/python benchmarks/strongest_peer.py --quick --workloads labels,patches

The workloads of ``fast_path.py``: the training step (AngleEmbedding RY + 4
StronglyEntanglingLayers, batch 256, float64, loss = sum(probabilities @ c), forward and
backward) at 4-12 qubits; the soft-label pass (probabilities of 60,000 samples at 8 qubits, no
gradient, chunks of 4,096); the patch pass (``<Z_i>`` of the 768 four-qubit random circuits of
each of 10,000 3x32x32 images). Methods:

- the fast path (torch) and ``default.qubit`` (torch: the reference);
- TensorCircuit-NG on JAX in three set-ups (``peer_tcng.py``): its default greedy contractor
  with vmap (what ``fast_path.py`` compares with), cotengra with vmap, and cotengra with the
  weight block's unitary built once per step or pass and applied to the batch;
- PennyLane ``default.qubit`` under ``jax.jit`` with broadcasting (``peer_pennylane_jax.py``);
- pyqtorch, batched through its parameters, with torch autograd (``peer_pyqtorch.py``);
- Qulacs, one sample at a time with its own backpropagation (``peer_qulacs.py``).

Each method runs in a process of its own (JAX in a torch process slows torch), on the same
inputs; its outputs must be within the workload's tolerance of ``default.qubit``'s before its
rate counts: 1e-8, and 1e-5 for the patch pass, which the fast path runs in float32 (the peers
run in float64). The first call (compilation, path search) is timed apart and left out of the
rate, as is its peak memory. Slow methods are timed on fewer samples (:data:`FEWER`); rates are
per sample. With ``--rounds N``, the fast path and each size's strongest peer (the fastest in
the first round) are timed N - 1 times more, one after the other in each round, which goes
first alternating, each in a fresh process: their rates are the medians, and the fast path's
ratio to the peer is the median of the rounds' ratios, given with the lowest and highest (the
machine's speed drifts between minutes by more than the closest ratios). TorchQuantum is
not here: its package requires TensorFlow, PySCF, Qiskit below 1.0 and torchvision, which cannot
share this environment.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RESULTS = HERE / "strongest_peer.json"
README_START = "<!-- strongest peer: written by benchmarks/strongest_peer.py --docs -->"
README_END = "<!-- end of strongest peer -->"
FAST, REFERENCE = "qrobust_lite", "default.qubit"
TOLERANCE = 1e-8
PEERS = {
    "TC-NG (greedy, vmap)": ("peer_tcng.py", "vmap"),
    "TC-NG (cotengra, vmap)": ("peer_tcng.py", "vmap-cotengra"),
    "TC-NG (cotengra, unitary once)": ("peer_tcng.py", "unitary-cotengra"),
    "default.qubit + jax.jit": ("peer_pennylane_jax.py", None),
    "pyqtorch": ("peer_pyqtorch.py", None),
    "Qulacs (per sample)": ("peer_qulacs.py", None),
}
WORKLOADS = ("training", "labels", "patches")
#: The forward passes as ``fast_path.py`` builds them: its arrays and gate lists, circuits per
#: sample, samples (full run, ``--quick``) and the caption of their table.
FORWARD = {
    "labels": {
        "size": 8,
        "x": "xl",
        "w": "wl",
        "readout": "probs",
        "chunk": 4_096,
        "per_sample": 1,
        "samples": (60_000, 4_096),
        "tolerance": TOLERANCE,
        "caption": "soft-label pass: probabilities of {:,} samples at 8 qubits, no gradient, chunks of 4,096, "
        "samples/s",
    },
    "patches": {
        "size": 4,
        "x": "xp",
        "w": "wp",
        "readout": "z",
        "chunk": 16_384,
        "per_sample": 768,
        "samples": (10_000, 100),
        "tolerance": 1e-5,  # the fast path's patch pass is float32, as in fast_path.py
        "caption": "patch pass: `<Z_i>` of the 768 four-qubit circuits of each of {:,} 3x32x32 images, images/s",
    },
}
#: Samples the slow methods are timed on, per forward workload (at most the workload's).
FEWER = {
    "labels": {REFERENCE: 3_000, "pyqtorch": 12_288, "Qulacs (per sample)": 2_000},
    "patches": {REFERENCE: 100, "pyqtorch": 1_000, "Qulacs (per sample)": 50},
}


def run(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise RuntimeError(f"{args[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cases(workload: str, method: str, qubits: list[int], gates: dict, samples: dict[str, int]) -> list[dict]:
    """``method``'s cases of ``workload`` for a worker or a peer script: the training step at
    every size of ``qubits`` (batch 256), or the forward pass of ``samples[workload]`` samples,
    or of :data:`FEWER` for a slow method."""
    if workload == "training":
        return [
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
        ]
    spec = FORWARD[workload]
    batch = min(samples[workload], FEWER[workload].get(method, samples[workload]))
    return [
        {
            "size": spec["size"],
            "n_qubits": spec["size"],
            "gates": gates[workload],
            "readout": spec["readout"],
            "x": spec["x"],
            "w": spec["w"],
            "chunk": spec["chunk"],
            "batch": batch,
            "rows": batch * spec["per_sample"],
            "check_rows": 64,
        }
    ]


def records(results: dict) -> dict[str, dict]:
    """``{workload: record}`` of a stored run; a record holds ``tolerance``, ``qubits`` and
    ``methods`` (the training step's are at the top level, as before the forward passes)."""
    found = {"training": results} if "methods" in results else {}
    return found | {w: results[w] for w in FORWARD if w in results}


def counted(record: dict, n: int) -> dict[str, float]:
    """``{method: samples/s}`` at ``n`` qubits of the methods whose outputs matched the reference."""
    rates = {}
    for name, rows in record["methods"].items():
        row = next((r for r in rows if r["size"] == n), None) if isinstance(rows, list) else None
        if row is not None and row.get("max_difference", 0.0) <= record["tolerance"]:
            rates[name] = row["rate"]
    return rates


def strongest(record: dict, n: int) -> tuple[dict[str, float], str | None]:
    """The counted rates at ``n`` qubits and the strongest peer: the one a run with rounds
    re-timed (the fastest in its first round), else the fastest counted peer (None without one)."""
    rates = counted(record, n)
    chosen = record.get("strongest", {}).get(str(n))
    if chosen in rates:
        return rates, chosen
    peers = {m: rate for m, rate in rates.items() if m not in (FAST, REFERENCE)}
    return rates, max(peers, key=peers.__getitem__) if peers else None


def caption(workload: str, record: dict) -> str:
    """What a workload's table measured; a forward pass's names the peers timed on fewer samples."""
    rounds = record.get("rounds", 1)
    again = (
        f"; the fast path and the strongest peer (the fastest in the first round, in which every method ran) "
        f"ran {rounds} rounds, one after the other in each: their rates are the medians, fast / strongest the "
        "median of the rounds' ratios (lowest-highest); the other peers ran once"
        if rounds > 1
        else ""
    )
    if workload == "training":
        return "training step, batch 256, samples/s; the first call (compilation, path search) is left out" + again
    fewer = [
        f"{m} {rows[0]['batch']:,}"
        for m, rows in record["methods"].items()
        if m != REFERENCE and isinstance(rows, list) and rows[0]["batch"] < record["samples"]
    ]
    return (
        FORWARD[workload]["caption"].format(record["samples"])
        + (f"; timed on fewer samples: {', '.join(fewer)}" if fewer else "")
        + f"; outputs within {record['tolerance']:g} of {REFERENCE}'s"
        + again
    )


def table(record: dict) -> list[str]:
    """A workload's README table: per size, every rate, the strongest peer, the fast path's ratio."""
    peers, rounds = [m for m in record["methods"] if m not in (FAST, REFERENCE)], record.get("rounds", 1)
    lines = [
        "| qubits | fast path | " + " | ".join(peers) + " | strongest peer | fast / strongest |",
        "| ---: |" + " ---: |" * (len(peers) + 1) + " --- | ---: |",
    ]
    for n in record["qubits"]:
        rates, best = strongest(record, n)
        cells = [f"{rates[m]:,.0f}" if m in rates else "-" for m in [FAST, *peers]]
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {best or '-'} | {shown(ratio(record, n), rounds)} |")
    return lines


def ratio(record: dict, n: int) -> tuple[float, float, float, int] | None:
    """The fast path's ratio to the strongest peer at ``n`` qubits: (median, lowest, highest,
    rounds) of the ratios of the rounds in which both ran (a failed run is ``None`` in
    ``rounds``), else of their rates (one round); None without a counted peer."""
    rates, best = strongest(record, n)
    if best is None or FAST not in rates:
        return None
    fast, peer = (next(r for r in record["methods"][m] if r["size"] == n) for m in (FAST, best))
    both = zip(fast.get("rounds", []), peer.get("rounds", []))
    ratios = [a / b for a, b in both if a is not None and b is not None] or [rates[FAST] / rates[best]]
    return statistics.median(ratios), min(ratios), max(ratios), len(ratios)


def shown(found: tuple[float, float, float, int] | None, rounds: int = 1) -> str:
    """A ratio for the tables: ``1.35x``, ``1.35x (1.28-1.41)`` over ``rounds`` rounds, and
    ``1.35x (1.28-1.41; 2 of 3 rounds)`` where a run failed."""
    if found is None:
        return "-"
    middle, low, high, count = found
    if rounds == 1:
        return f"{middle:.2f}x"
    return f"{middle:.2f}x ({low:.2f}-{high:.2f}{'' if count == rounds else f'; {count} of {rounds} rounds'})"


def readme_block(results: dict) -> str:
    """The README's strongest-peer tables, from a stored run (``--docs`` is their only writer)."""
    where, versions = results["machine"], results.get("versions", {})
    head = (
        f"Measured {where['date']} ({where['cpu']}, {where['cores']} cores, torch {where['torch']}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
        + ")"
    )
    lines = [README_START, ""]
    for i, (workload, record) in enumerate(records(results).items()):
        text = caption(workload, record)
        lines += [f"{head}, {text}:" if i == 0 else f"{text[0].upper()}{text[1:]}:", "", *table(record), ""]
    return "\n".join(lines + [README_END])


def write_docs(readme: Path = HERE.parent / "README.md") -> None:
    text = readme.read_text()
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + readme_block(json.loads(RESULTS.read_text())) + text[end:])


def compare(record: dict) -> None:
    """Keep every method's largest difference from default.qubit's outputs as ``max_difference``."""
    for rows in record["methods"].values():
        for row in rows if isinstance(rows, list) else []:
            row["max_difference"] = from_reference(record, row)


def from_reference(record: dict, row: dict) -> float:
    """The largest difference of ``row``'s outputs from default.qubit's at its size."""
    from fast_path import max_difference

    reference = next(r for r in record["methods"][REFERENCE] if r["size"] == row["size"])
    return max_difference(row["check"], reference["check"])


def report(workload: str, record: dict) -> None:
    """Print the rates, the strongest peer and the fast path's ratio to it, size by size."""
    print(f"\n{caption(workload, record)}\n(in brackets: the first call, s)")
    for n in record["qubits"]:
        for name, rows in record["methods"].items():
            if isinstance(rows, dict):
                print(f"{n:>3} qubits  {name:<32}{'FAILED':>11}  (the error is in the results)")
                continue
            row = next(r for r in rows if r["size"] == n)
            differs = row["max_difference"] > record["tolerance"]
            print(
                f"{n:>3} qubits  {name:<32}{row['rate']:>11,.0f}  ({row['first_call_s']:.1f} s)"
                + (f"  DIFFERS by {row['max_difference']:.1e}" if differs else "")
            )
        _, best = strongest(record, n)
        if best and FAST in record["methods"]:
            found = shown(ratio(record, n), record.get("rounds", 1))
            print(f"{n:>3} qubits  strongest peer: {best}; fast path / strongest = {found}")


def add_round(record: dict, method: str, sizes: list[int], rows: list[dict] | dict) -> None:
    """Add a round of ``method`` at ``sizes``: each new rate joins its size's row in ``rounds``
    (the first round's rate included; ``None`` where the run failed, ``rows`` then being its
    error), whose median becomes the row's rate; the row's ``max_difference`` from default.qubit
    is the largest of the rounds'."""
    for n in sizes:
        row = next(r for r in record["methods"][method] if r["size"] == n)
        new = next((r for r in rows if r["size"] == n), None) if isinstance(rows, list) else None
        row.setdefault("rounds", [row["rate"]]).append(None if new is None else new["rate"])
        row["rate"] = statistics.median(rate for rate in row["rounds"] if rate is not None)
        if new is not None:
            row["max_difference"] = max(row["max_difference"], from_reference(record, new))


def listed(choices: tuple[str, ...] | dict, separator: str):
    """An argparse type: names from ``choices`` separated by ``separator``, checked as it parses."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(separator)]
        unknown = [name for name in names if name not in choices]
        if unknown:  # before minutes of timing, not after
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {list(choices)}")
        return names

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 and 8 qubits, smaller passes, shorter timings")
    parser.add_argument(
        "--qubits",
        type=lambda text: [int(n) for n in text.split(",")],
        help="training-step sizes instead of 4-12 (e.g. 4,6)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        choices=range(1, 10),
        default=1,
        metavar="N",
        help="time the fast path and each size's strongest peer N times in all, in turns (1-9; default 1)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--docs", action="store_true", help=f"only rewrite README.md's tables from {RESULTS.name}")
    parser.add_argument(
        "--peers",
        type=listed(PEERS, ";"),
        default=list(PEERS),
        help="names of PEERS to run, separated by ';' (names hold commas; default: all)",
    )
    parser.add_argument(
        "--workloads",
        type=listed(WORKLOADS, ","),
        default=list(WORKLOADS),
        help=f"of {','.join(WORKLOADS)} (default: all), separated by ','",
    )
    return parser.parse_args(argv)


def timed(method: str, workload: str, sizes: list[int], setup: dict) -> list[dict] | dict:
    """``method``'s rows on ``workload`` at ``sizes``, each method in a fresh process; a peer that
    cannot run here gives ``{"error": ...}`` (named in the results, not hidden)."""
    cases_ = cases(workload, method, sizes, setup["gates"], setup["samples"])
    if method in (REFERENCE, FAST):
        from fast_path import run_worker

        job = {"method": method, "workload": workload, "min_time": setup["min_time"], "cases": cases_}
        return run_worker(job)["results"]
    script, config = PEERS[method]
    job = {
        "workload": workload,
        "inputs": str(setup["inputs"]),
        "min_time": setup["min_time"],
        "config": config,
        "cases": cases_,
    }
    (setup["folder"] / "job.json").write_text(json.dumps(job))
    try:
        answer = run([str(HERE / script), str(setup["folder"] / "job.json")])
    except RuntimeError as error:
        print(f"{workload}: {method} FAILED {str(error)[-300:]}", flush=True)
        return {"error": str(error)[-500:]}
    setup["versions"].update(answer["versions"])
    return answer["results"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.docs:
        write_docs()
        return 0
    from fast_path import machine, peer_inputs

    qubits, min_time = ([4, 8], 0.5) if args.quick else ([4, 6, 8, 10, 12], 1.5)
    qubits = args.qubits or qubits
    results: dict = {"machine": machine(), "versions": {}}
    with tempfile.TemporaryDirectory() as folder:
        samples = {w: spec["samples"][args.quick] for w, spec in FORWARD.items()}
        inputs, gates = peer_inputs(Path(folder), qubits, samples["labels"], samples["patches"])
        setup = {"gates": gates, "samples": samples, "min_time": min_time, "inputs": inputs}
        setup |= {"folder": Path(folder), "versions": results["versions"]}
        for workload in [w for w in WORKLOADS if w in args.workloads]:
            if workload == "training":
                record = results
                record.update({"tolerance": TOLERANCE, "qubits": qubits, "rounds": args.rounds, "methods": {}})
            else:
                spec = FORWARD[workload]
                record = results[workload] = {
                    "tolerance": spec["tolerance"],
                    "qubits": [spec["size"]],
                    "samples": samples[workload],
                    "rounds": args.rounds,
                    "methods": {},
                }
            for method in (REFERENCE, FAST, *args.peers):
                record["methods"][method] = timed(method, workload, record["qubits"], setup)
                print(f"{workload}: {method} done", flush=True)
            compare(record)
            best = {n: strongest(record, n)[1] for n in record["qubits"]}
            if args.rounds > 1:
                record["strongest"] = {str(n): b for n, b in best.items() if b}
            for k in range(1, args.rounds):  # the fast path and each size's strongest peer again
                peers = sorted({b for b in best.values() if b})
                for method in [*peers, FAST] if k % 2 else [FAST, *peers]:  # who goes first alternates
                    sizes = [n for n in record["qubits"] if method == FAST or best[n] == method]
                    add_round(record, method, sizes, timed(method, workload, sizes, setup))
                print(f"{workload}: round {k + 1} of {args.rounds} done", flush=True)
            report(workload, record)
    if args.json:  # the forward passes' compared outputs are not kept (megabytes); their differences are
        for workload in FORWARD:
            for rows in results.get(workload, {}).get("methods", {}).values():
                for row in rows if isinstance(rows, list) else []:
                    row.pop("check")
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
