"""The ``qrobust-lite`` command (book: *Introduction*, *For instructors*).

``qrobust-lite doctor`` reports what this machine will use; ``qrobust-lite run EXPERIMENT
--scale full`` runs a chapter's experiment at a larger size and writes results and figures;
``qrobust-lite grade NOTEBOOK...`` runs learners' notebooks and reports their exercises.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import platform
import sys
import warnings
from pathlib import Path

import matplotlib
import torch

from .. import backend, data, experiments, scales


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _torchvision_status() -> str:
    try:
        importlib.import_module("torchvision")
    except Exception as err:  # a broken build raises RuntimeError, not ImportError
        return f"not importable ({type(err).__name__}: {str(err).splitlines()[0]}); qrobust-lite does not need it"
    return f"importable, {_version('torchvision')}"


def doctor_report() -> str:
    """The doctor's report as text: versions, device and why, data sources, threads, GPU."""
    lines = ["qrobust-lite doctor", "", "Versions"]
    lines.append(f"  {'python':<24}{platform.python_version()} ({sys.executable})")
    for dist in ("qrobust-lite", "torch", "pennylane", "pennylane-lightning", "pennylane-lightning-gpu"):
        lines.append(f"  {dist:<24}{_version(dist)}")
    lines.append(f"  {'torchvision':<24}{_torchvision_status()}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reason is printed below instead
        choice = backend.choose_device(8)
        large = backend.choose_device(backend.BACKPROP_MAX_QUBITS + 1)
    gpu_problem = backend.probe_lightning_gpu()
    lines += ["", "Quantum device (for an 8-qubit circuit)",
              f"  {choice.name}, diff_method={choice.diff_method}",
              f"  why: {choice.reason}",
              f"  above {backend.BACKPROP_MAX_QUBITS} qubits: {large.name} ({large.diff_method})",
              f"  lightning.gpu: {gpu_problem or 'usable'}",
              f"  override: ${backend.ENV_VAR}={os.environ.get(backend.ENV_VAR, '(unset)')}",
              "  circuit kit: " + ("qrobust_lite fast path (torch, exact; see the book's Performance "
                                   "appendix)" if choice.name == "default.qubit"
                                   else f"PennyLane QNodes on {choice.name}"),
              "", "Torch device (fast path and classical networks)",
              f"  {backend.torch_device()}: {backend.torch_device_reason()}",
              f"  override: ${backend.TORCH_ENV_VAR}={os.environ.get(backend.TORCH_ENV_VAR, '(unset)')}"]
    lines += ["", "Data sources (searched in this order)"]
    for label, path in data.candidate_roots():
        lines.append(f"  {label:<18}{path}")
    for name in data.DATASETS:
        found = data.available_sources(name, "train")
        lines.append(f"  {name:<18}{found[0] if found else 'none: pass root= to a local copy'}")
    lines += ["", "Compute",
              f"  torch threads     {torch.get_num_threads()} (of {os.cpu_count()} CPUs)"]
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        lines.append(f"  GPU               {names}")
    else:
        lines.append("  GPU               none visible to torch (CPU build or no CUDA device)")
    return "\n".join(lines)


def _save_figure(figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


def run_label_refining(scale: str, out: Path, root: str | None, datasets: list[str]) -> list[Path]:
    """Part I at ``scale``: results JSON and accuracy/ECE figures per dataset in ``out``."""
    from .. import label_refining as lr

    settings = scales.settings("label_refining", scale)
    results, written = {}, []
    for dataset in datasets:
        res = lr.robustness_experiment(dataset, root=root, **settings)
        gains = {m: lr.best_relative_gain(res, m) for m in lr.METHODS if m != "one-hot"}
        results[dataset] = {**res, "summary": {metric: lr.summarise(res, metric)
                                               for metric in ("accuracy", "ece")},
                            "best_relative_gain_over_one_hot": gains}
        for metric in ("accuracy", "ece"):
            axes = lr.plot_accuracy_vs_severity(res, metric=metric)
            axes[0].figure.suptitle(f"{dataset}: {metric} (mean +- std over seeds {list(settings['seeds'])})")
            written.append(_save_figure(axes[0].figure, out / f"label_refining_{dataset}_{metric}.png"))
    path = out / "label_refining.json"
    path.write_text(json.dumps({"scale": scale, "results": results}, indent=1, default=str))
    return [path] + written


def run_quantum_patches(scale: str, out: Path, root: str | None, datasets: list[str]) -> list[Path]:
    """Part II at ``scale``: every defence on CIFAR-10 and CINIC-10; undefended vs quantum
    patches on MNIST (where the paper reports no gain). Results JSON, tables and figures."""
    from .. import defences as dfn

    settings = scales.settings("quantum_patches", scale)
    results, written = {}, []
    for dataset in datasets:
        chosen = ("none", "quantum patches") if dataset == "mnist" else dfn.DEFENCES
        res = dfn.defence_experiment(dataset, defences=chosen, root=root, **settings)
        results[dataset] = {**res, "summary": dfn.summarise(res),
                            "table": {a: dfn.format_table(res, a) for a in dfn.ATTACKS},
                            "paper_asr": dfn.PAPER_ASR.get(dataset)}
        axes = dfn.plot_attack_success(res)
        axes[0].figure.suptitle(f"{dataset}: attack success rate (mean +- std over seeds "
                                f"{list(settings['seeds'])})")
        written.append(_save_figure(axes[0].figure, out / f"quantum_patches_{dataset}.png"))
        print(f"{dataset}\n{results[dataset]['table']['PGD']}", flush=True)
    path = out / "quantum_patches.json"
    path.write_text(json.dumps({"scale": scale, "results": results}, indent=1, default=str))
    return [path] + written


# Part III's dataset names on the command line -> in the package
PART_THREE_DATASETS = {"mnist": "mnist", "spin": "spin chain"}


def run_poisoning(scale: str, out: Path, root: str | None, datasets: list[str], executor: str = "local",
                  scheduler: str | None = None, workers: int | None = None) -> list[Path]:
    """Part III, chapter 1: :func:`~qrobust_lite.poisoning.chapter_grid` (label flips, and
    feature randomisation on MNIST) for the QNN and the MLP over alpha and seeds, cached under ``out/cache``; JSON and figures."""
    from .. import poisoning

    chosen = [PART_THREE_DATASETS[d] for d in datasets]
    configs = poisoning.chapter_grid(scale, datasets=chosen, data_root=root)
    if executor == "dask" and scheduler is not None:
        with experiments.dask_client(scheduler) as client:
            results = experiments.run_grid(configs, poisoning.run, key=poisoning.run_key, cache=out / "cache",
                                           executor="dask", client=client)
    else:
        results = experiments.run_grid(configs, poisoning.run, key=poisoning.run_key, cache=out / "cache",
                                       executor=executor, n_jobs=workers or -1)
    summary = {}
    for (d, m, c), (alphas, values) in poisoning.curves(results).items():
        location, spread = poisoning.critical_alpha(alphas, values) if len(alphas) > 1 else (None, None)
        summary[f"{d} / {m} / {c}"] = {"critical_alpha": location, "bootstrap_std": spread}
    axes = poisoning.plot_curves(results)
    path = _save_figure(axes[0].figure, out / "poisoning.png")
    json_path = out / "poisoning.json"
    json_path.write_text(json.dumps({"scale": scale, "summary": summary, "runs": results}, indent=1))
    return [json_path, path]


def run_unlearning(scale: str, out: Path, root: str | None, datasets: list[str]) -> list[Path]:
    """Part III, chapter 2: unlearning from models poisoned at alpha = 0.3; JSON and figures."""
    from .. import unlearning

    res = unlearning.unlearning_experiment(scale, datasets=[PART_THREE_DATASETS[d] for d in datasets],
                                           data_root=root)
    written = []
    for d in res["config"]["datasets"]:
        axes = unlearning.plot_histories(res, d)
        written.append(_save_figure(axes[0, 0].figure, out / f"unlearning_{d.replace(' ', '_')}.png"))
    json_path = out / "unlearning.json"
    json_path.write_text(json.dumps({"scale": scale, "results": res}, indent=1))
    return [json_path] + written


def _default_quantum_patch_datasets() -> list[str]:
    """CIFAR-10 and MNIST, and CINIC-10 when a local copy is found (it is not bundled)."""
    return ["cifar10"] + (["cinic10"] if data.available_sources("cinic10", "test") else []) + ["mnist"]


# experiment -> (runner, datasets it can run, the default datasets)
RUNNERS = {
    "label-refining": (run_label_refining, ("mnist", "fashion_mnist"), lambda: ["mnist", "fashion_mnist"]),
    "quantum-patches": (run_quantum_patches, ("cifar10", "cinic10", "mnist"), _default_quantum_patch_datasets),
    "poisoning": (run_poisoning, tuple(PART_THREE_DATASETS), lambda: list(PART_THREE_DATASETS)),
    "unlearning": (run_unlearning, tuple(PART_THREE_DATASETS), lambda: list(PART_THREE_DATASETS)),
}


def _outputs(name: str, datasets: list[str]) -> list[str]:
    """The files a runner writes, so a run can refuse to overwrite them."""
    if name == "label-refining":
        return ["label_refining.json"] + [f"label_refining_{d}_{m}.png" for d in datasets
                                          for m in ("accuracy", "ece")]
    if name == "poisoning":
        return ["poisoning.json", "poisoning.png"]
    if name == "unlearning":
        return ["unlearning.json"] + [f"unlearning_{'spin_chain' if d == 'spin' else d}.png" for d in datasets]
    return ["quantum_patches.json"] + [f"quantum_patches_{d}.png" for d in datasets]


def _grade(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``qrobust-lite grade``: one line per notebook, and optionally a CSV file."""
    import csv

    from ..exercises import grade_notebook

    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"notebooks not found: {', '.join(missing)}")
    if args.csv is not None and args.csv.exists() and not args.force:
        parser.error(f"--csv {args.csv} already exists; pass --force to overwrite it")
    grades = {}
    for path in args.notebooks:
        grades[path] = grade_notebook(path, timeout=args.timeout)
        result = grades[path]
        passed = sum(result["exercises"].values())
        print(f"{path}: {passed} of {len(result['exercises'])} checks passed"
              + (f"; stopped with {result['error']}" if result["error"] else ""))
        for exercise, ok in result["exercises"].items():
            print(f"  {'passed ' if ok else 'not yet'}  {exercise}")
    if args.csv is not None:
        columns = sorted({e for r in grades.values() for e in r["exercises"]})
        with args.csv.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["notebook", *columns, "error"])
            for path, result in grades.items():
                writer.writerow([str(path), *(int(result["exercises"].get(e, False)) for e in columns),
                                 result["error"] or ""])
        print(f"wrote {args.csv}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qrobust-lite`` console script."""
    parser = argparse.ArgumentParser(prog="qrobust-lite", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="versions, the quantum device chosen and why, data sources, threads, GPU")
    run = sub.add_parser("run", help="run a chapter's experiment and write results JSON and figures")
    run.add_argument("experiment", choices=sorted(RUNNERS))
    run.add_argument("--scale", choices=list(scales.SCALES), default="default",
                     help="default: the chapter's size; full: larger (needs the full datasets); "
                          "smoke: seconds, to check that it runs")
    run.add_argument("--out", type=Path, default=Path("results"), help="folder for the outputs")
    run.add_argument("--data-root", help="folder with the official dataset files (else $QROBUST_DATA, cache, bundled)")
    run.add_argument("--datasets", help="comma-separated subset of the experiment's datasets "
                     "(label-refining: mnist,fashion_mnist; quantum-patches: cifar10,cinic10,mnist; "
                     "poisoning, unlearning: mnist,spin)")
    run.add_argument("--force", action="store_true", help="overwrite earlier outputs in --out")
    run.add_argument("--executor", choices=sorted(experiments.EXECUTORS), default="local",
                     help="poisoning only: where the runs go (dask: a Dask cluster, needs the cluster extra)")
    run.add_argument("--scheduler", help="with --executor dask: the address of a running scheduler, "
                     "tcp://HOST:8786 (else a local cluster is started)")
    run.add_argument("--workers", type=int, help="workers of the local pool or cluster (default: all cores)")
    grade = sub.add_parser("grade", help="run learners' notebooks and report each exercise's check")
    grade.add_argument("notebooks", nargs="+", type=Path)
    grade.add_argument("--csv", type=Path, help="also write one row per notebook to this CSV file")
    grade.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    grade.add_argument("--force", action="store_true", help="overwrite an existing --csv file")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        try:
            print(doctor_report())
        except ValueError as err:          # a bad setting in the environment, named in the message
            print(f"qrobust-lite doctor: {err}", file=sys.stderr)
            return 2
        return 0
    if args.command == "grade":
        return _grade(parser, args)
    runner, allowed, default = RUNNERS[args.experiment]
    datasets = default() if args.datasets is None else [d.strip() for d in args.datasets.split(",")]
    wrong = [d for d in datasets if d not in allowed]
    if wrong or not datasets:
        parser.error(f"--datasets for {args.experiment} must be a comma-separated subset of "
                     f"{','.join(allowed)}, got {args.datasets!r}")
    grid_options = {"executor": args.executor, "scheduler": args.scheduler, "workers": args.workers}
    if args.experiment != "poisoning" and grid_options != {"executor": "local", "scheduler": None, "workers": None}:
        parser.error("--executor, --scheduler and --workers apply to 'run poisoning' only (the other "
                     "experiments do not run through the experiments runner yet)")
    if args.scheduler is not None and args.executor != "dask":
        parser.error("--scheduler needs --executor dask")
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers must be a positive integer, got {args.workers}")
    existing = [f for f in _outputs(args.experiment, datasets) if (args.out / f).exists()]
    if existing and not args.force:
        parser.error(f"--out {args.out} already holds {', '.join(existing)}; pass --force to overwrite "
                     "or choose another --out")
    args.out.mkdir(parents=True, exist_ok=True)
    matplotlib.use("Agg")  # the runners write figures to files, never to a window
    try:
        options = grid_options if args.experiment == "poisoning" else {}
        written = runner(args.scale, args.out, args.data_root, datasets, **options)
    except (ValueError, FileNotFoundError) as err:
        print(f"qrobust-lite run {args.experiment}: {err}\n(from the command line: --data-root PATH "
              f"or set $QROBUST_DATA to a folder with the official files)", file=sys.stderr)
        return 2
    print("wrote:", *written, sep="\n  ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
