"""Benchmark: qrobust_lite's fast path against stock PennyLane, side by side in one run.

    .venv/bin/python benchmarks/fast_path.py            # full table, about 4 minutes here
    .venv/bin/python benchmarks/fast_path.py --quick    # smaller, about 1 minute

Prints samples/s and ratios for (1) a training step (forward + backward, batch 256) at
4-12 qubits, (2) Born-rule probabilities for 60,000 images at 8 qubits, (3) random-circuit
patches for 10,000 3x32x32 images, against the targets of the fast path (3x on training
steps at 4, 6 and 8 qubits and never slower at 10 and 12; 10x on the dataset-scale passes).
Slow methods are timed on a subset and their rate scaled up; the subset sizes are printed.
With a CUDA GPU, lightning.gpu and the fast path on CUDA are added. Chapters' running times:
``benchmarks/chapter_times.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from qrobust_lite.course import performance as pf

SLOW = {"lightning.qubit", "per-sample loop", "lightning.gpu"}


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def verdict(ratio: float, target: float) -> str:
    return f"{ratio:.1f}x ({'meets' if ratio >= target else 'MISSES'} {target:g}x)"


def training(qubits: list[int], methods: list[str], min_time: float) -> list[dict]:
    results, rows = [], []
    for n in qubits:
        rates = {}
        for m in methods:
            batch = 256 if m not in SLOW else (16 if n <= 8 else 8)
            rates[m] = pf.samples_per_second(pf.training_step(m, n, batch), batch, min_time)
        ratio = rates["qrobust_lite"] / rates["default.qubit"]
        target = 3.0 if n <= 8 else 1.0
        results.append({"n_qubits": n, "samples_per_s": rates, "ratio_vs_default_qubit": ratio})
        rows.append([n] + [f"{rates[m]:,.0f}" for m in methods] + [verdict(ratio, target)])
    table("Training step, batch 256 (samples/s; slow methods timed on 8-16 samples)",
          ["qubits"] + methods + ["fast / default.qubit"], rows)
    return results


def dataset_forward(name: str, work, sizes: dict[str, int], full: int, unit: str,
                    min_time: float) -> dict:
    rates = {m: pf.samples_per_second(work(m, k), k, min_time, max_repeats=3) for m, k in sizes.items()}
    rows = [[m, f"{k:,}", f"{rates[m]:,.0f}", f"{full / rates[m]:,.1f}"] for m, k in sizes.items()]
    ratio = rates["qrobust_lite"] / rates["default.qubit"]
    table(f"{name}: fast / default.qubit = {verdict(ratio, 10.0)}",
          ["method", f"{unit} timed", f"{unit}/s", f"seconds for {full:,}"], rows)
    return {"rates": rates, "ratio_vs_default_qubit": ratio, "seconds_full": full / rates["qrobust_lite"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, shorter timings")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    gpu = list(pf.cuda_methods())
    methods = list(pf.METHODS) + gpu
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; GPU methods: {gpu or 'none'}")
    min_time = 0.2 if args.quick else 0.5
    qubits = [4, 8] if args.quick else [4, 6, 8, 10, 12]
    start = time.perf_counter()
    results = {"training": training(qubits, methods, min_time)}
    n_labels = 6_000 if args.quick else 60_000
    results["labels"] = dataset_forward(
        f"Soft labels: probabilities of {n_labels:,} images at 8 qubits", lambda m, k: pf.label_forward(m, 8, k),
        {"qrobust_lite": n_labels, "default.qubit": 3_000, "lightning.qubit": 200, "per-sample loop": 100,
         **{m: 200 for m in gpu if m == "lightning.gpu"}, **{m: n_labels for m in gpu if "cuda" in m}},
        n_labels, "images", min_time)
    n_images = 1_000 if args.quick else 10_000
    results["patches"] = dataset_forward(
        f"Random-circuit patches of {n_images:,} 3x32x32 images (768 circuits each)", pf.patch_forward,
        {"qrobust_lite": n_images, "default.qubit": 100, "lightning.qubit": 2, "per-sample loop": 1},
        n_images, "images", min_time)
    print(f"\n(kernels measured in {time.perf_counter() - start:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
