"""The ``qrobust-lite`` command (book: *Introduction*, *For instructors*).

``qrobust-lite doctor`` reports what this machine will use; ``qrobust-lite run EXPERIMENT
--scale full`` runs a chapter's experiment at a larger size and writes results and figures;
``qrobust-lite grade NOTEBOOK...`` runs learners' notebooks and reports their exercises.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import matplotlib
import torch

from .. import backend, data, experiments, scales
from ..validation import COUNT, TEXT, FilePath, Instance, Optional, Options, Real, Sequence_, validate_params


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
    lines += [
        "",
        "Quantum device (for an 8-qubit circuit)",
        f"  {choice.name}, diff_method={choice.diff_method}",
        f"  why: {choice.reason}",
        f"  above {backend.BACKPROP_MAX_QUBITS} qubits: {large.name} ({large.diff_method})",
        f"  lightning.gpu: {gpu_problem or 'usable'}",
        f"  override: ${backend.ENV_VAR}={os.environ.get(backend.ENV_VAR, '(unset)')}",
        "  circuit kit: "
        + (
            "qrobust_lite fast path (torch, exact; see the book's Performance appendix)"
            if choice.name == "default.qubit"
            else f"PennyLane QNodes on {choice.name}"
        ),
        "",
        "Torch device (fast path and classical networks)",
        f"  {backend.torch_device()}: {backend.torch_device_reason()}",
        f"  override: ${backend.TORCH_ENV_VAR}={os.environ.get(backend.TORCH_ENV_VAR, '(unset)')}",
    ]
    lines += ["", "Data sources (searched in this order)"]
    for label, path in data.candidate_roots():
        lines.append(f"  {label:<18}{path}")
    for name in data.DATASETS:
        found = data.available_sources(name, "train")
        lines.append(f"  {name:<18}{found[0] if found else 'none: pass data_root= to a local copy'}")
    lines += ["", "Compute", f"  torch threads     {torch.get_num_threads()} (of {os.cpu_count()} CPUs)"]
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        lines.append(f"  GPU               {names}")
    else:
        lines.append("  GPU               none visible to torch (CPU build or no CUDA device)")
    return "\n".join(lines + speed_lines())


def speed_lines() -> list[str]:
    """The doctor's live check: the fast path against ``default.qubit`` on a 4-qubit training
    step, in alternating pairs (the median pair's ratio), with the threads and the load."""
    from . import performance

    with backend.load_aware_threads() as threads:
        pair = performance.paired_ratio(
            performance.training_step("qrobust_lite", 4),
            performance.training_step("default.qubit", 4),
            256,
            pairs=3,
            min_time=0.1,
        )
    shared = pair["others"] > 0.25
    return [
        "",
        "Speed now (4-qubit training step, batch 256; the stored benchmark is in the book)",
        f"  fast path {pair['work']:,.0f} samples/s, default.qubit {pair['baseline']:,.0f}: {pair['ratio']:.1f}x "
        f"(pairs {pair['low']:.1f}-{pair['high']:.1f}x)",
        f"  {threads} torch thread(s); other processes kept {pair['others']:.2f} cores busy"
        + ("; the machine is shared, so the rates are low and the ratio uncertain" if shared else ""),
    ]


def _save_figure(figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


# Part III's dataset names on the command line -> in the package
PART_THREE_DATASETS = {"mnist": "mnist", "spin": "spin chain", "spin-authors": "spin chain (authors)"}
#: What ``run poisoning`` and ``run unlearning`` run without ``--datasets`` (the course's designs).
PART_THREE_DEFAULT = ["mnist", "spin"]


def _default_quantum_patch_datasets() -> list[str]:
    """CIFAR-10 and MNIST, and CINIC-10 when a local copy is found (it is not bundled)."""
    return ["cifar10"] + (["cinic10"] if data.available_sources("cinic10", "test") else []) + ["mnist"]


@dataclass(frozen=True)
class Experiment:
    """A ``qrobust-lite run`` experiment: the ``report`` function of package module ``module``
    (imported when it runs, so that ``doctor`` stays quick) returns its results and figures;
    ``names`` maps a dataset's name on the command line to the package's; ``figures(datasets)``
    names the figures it makes (the keys of that dict, by command-line name), so that the files
    it will write are known before it runs."""

    module: str
    datasets: tuple[str, ...]
    default_datasets: Callable[[], list[str]]
    figures: Callable[[list[str]], list[str]]
    #: a part of the results also written on its own, as ``summary.json`` (the appendix reads it)
    summary_key: str | None = None
    names: dict = field(default_factory=dict)

    def report(
        self, scale: str, datasets: list[str], data_root: str | None, grid: dict, **options
    ) -> tuple[dict, dict]:
        """Run it: ``module.report`` with the package's dataset names; figures keyed as on the command line."""
        report = importlib.import_module(f"qrobust_lite.{self.module}").report
        package = {d: self.names.get(d, d) for d in datasets}
        results, figures = report(scale, list(package.values()), data_root, grid, **options)
        by_package = {v: k for k, v in package.items()}
        return results, {by_package.get(k, k): figure for k, figure in figures.items()}


#: Every ``qrobust-lite run`` experiment; each runs through :func:`~qrobust_lite.experiments.run_grid`.
RUNNERS = {
    "label-refining": Experiment(
        "label_refining",
        ("mnist", "fashion_mnist"),
        lambda: ["mnist", "fashion_mnist"],
        lambda ds: [f"{d}_{m}" for d in ds for m in ("accuracy", "ece", "tradeoff")],
    ),
    "label-refining-paper": Experiment(
        "paper_methods", ("mnist", "fashion_mnist"), lambda: ["mnist", "fashion_mnist"], list, summary_key="summary"
    ),
    "quantum-patches": Experiment("defences", ("cifar10", "cinic10", "mnist"), _default_quantum_patch_datasets, list),
    "poisoning": Experiment(
        "poisoning",
        tuple(PART_THREE_DATASETS),
        lambda: list(PART_THREE_DEFAULT),
        lambda ds: [""],
        names=PART_THREE_DATASETS,
    ),
    "unlearning": Experiment(
        "unlearning", tuple(PART_THREE_DATASETS), lambda: list(PART_THREE_DEFAULT), list, names=PART_THREE_DATASETS
    ),
}


@validate_params(name=Options(*RUNNERS), datasets=Sequence_(TEXT, distinct=True))
def output_files(name: str, datasets: list[str]) -> dict[str, str]:
    """``{"json" | figure key: file name}`` of experiment ``name`` on ``datasets``:
    ``label_refining.json``, ``label_refining_mnist_accuracy.png``, ..."""
    stem = name.replace("-", "_")
    keys = RUNNERS[name].figures(datasets)
    return {
        "json": f"{stem}.json",
        **({"summary": "summary.json"} if RUNNERS[name].summary_key else {}),
        **{k: f"{stem}_{k}.png" if k else f"{stem}.png" for k in keys},
    }


@validate_params(
    name=Options(*RUNNERS),
    scale=scales.SCALE,
    out=FilePath(),
    data_root=experiments.DATA_ROOT,
    datasets=Sequence_(TEXT, distinct=True),
    grid=Instance(dict, "run_grid's options"),
    alphas=Optional(Sequence_(Real(0, 1))),
    student_epochs=Optional(COUNT),
)
def run_experiment(
    name: str,
    scale: str,
    out: Path,
    data_root: str | None,
    datasets: list[str],
    grid: dict,
    alphas: list[float] | None = None,
    student_epochs: int | None = None,
) -> list[Path]:
    """Run experiment ``name`` through the runner table, its results cached under ``out/cache``
    (an interrupted run resumes); writes its JSON and figures into ``out``. ``alphas``: only
    for ``poisoning``, a subset of the scale's noise levels; ``student_epochs``: only for
    ``label-refining-paper``."""
    files = output_files(name, datasets)
    start = time.perf_counter()
    options = {k: v for k, v in (("alphas", alphas), ("student_epochs", student_epochs)) if v is not None}
    results, figures = RUNNERS[name].report(scale, datasets, data_root, {"cache": out / "cache", **grid}, **options)
    if set(figures) != set(files) - {"json", "summary"}:
        raise RuntimeError(
            f"experiment {name} made figures {sorted(figures)}, expected {sorted(set(files) - {'json', 'summary'})}"
        )
    json_path = out / files["json"]
    record = {
        "scale": scale,
        "datasets": datasets,
        **options,
        "version": _version("qrobust-lite"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "wall_seconds": time.perf_counter() - start,
        **results,
    }
    json_path.write_text(json.dumps(record, indent=1, default=str))
    written = [json_path]
    key = RUNNERS[name].summary_key
    if key is not None:
        written.append(out / "summary.json")
        written[-1].write_text(json.dumps(results[key], indent=1))
    return written + [_save_figure(figures[k], out / files[k]) for k in figures]


def _grade(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``qrobust-lite grade``: every check is made before a notebook runs; then one line per
    notebook, and the two CSV files."""
    from ..exercises import grading

    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"notebooks not found: {', '.join(missing)}")
    for arg in ("timeout", "cell_timeout", "check_timeout"):
        if not getattr(args, arg) > 0:
            parser.error(f"--{arg.replace('_', '-')} must be a positive number of seconds, got {getattr(args, arg)}")
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be a positive integer, got {args.jobs}")
    if args.memory_mb < 0:
        parser.error(f"--memory-mb must be a positive number of megabytes, or 0 for no limit; got {args.memory_mb}")
    outputs = []
    if args.csv is not None:
        outputs = [args.csv, args.long_csv or args.csv.with_name(f"{args.csv.stem}-long.csv")]
        for out in outputs:
            if not out.parent.is_dir():
                parser.error(f"the folder of {out} does not exist; create it first")
            if out.exists() and not args.force:
                parser.error(f"{out} already exists; pass --force to overwrite it")
    try:
        points = grading.check_points(json.loads(args.points.read_text())) if args.points else None
    except (ValueError, OSError) as err:
        parser.error(f"--points: {err}")
    if args.sandbox == "required" and not grading.sandbox_available():
        parser.error("--sandbox required, but unshare cannot make user, mount, PID and network namespaces here")
    isolation = (
        "sandbox (own user, mount, PID and network namespaces; files read-only but its folder; no network)"
        if args.sandbox != "off" and grading.sandbox_available()
        else "own folder and process group only (no sandbox here: files outside and the network are reachable)"
    )
    print(f"grading {len(args.notebooks)} notebook(s); isolation: {isolation}", flush=True)
    try:  # the file names are checked before any notebook runs
        grades = grading.grade_batch(
            args.notebooks,
            args.chapter,
            jobs=args.jobs,
            student_pattern=args.student_pattern,
            timeout=args.timeout,
            cell_timeout=args.cell_timeout,
            check_timeout=args.check_timeout,
            memory_mb=args.memory_mb or None,
            points=points,
            sandbox=args.sandbox,
        )
    except ValueError as err:
        parser.error(str(err))
    for g in grades:
        print(
            f"{g['file']} ({g['student']}, {g['chapter']}): {g['total']:g} of {g['max_points']:g} points, "
            f"{g['status']}" + (f"; {g['reason']}" if g["reason"] else "")
        )
        for e in g["exercises"]:
            print(f"  {e['status']:<14}{e['points']:g}/{e['max_points']:g}  {e['exercise']}: {e['message']}")
    if outputs:
        grading.write_csv(grades, outputs[0])
        grading.write_long_csv(grades, outputs[1])
        print("wrote", *outputs)
    return 0


@validate_params(folder=FilePath())
def unwritable(folder: Path) -> str | None:
    """Why results cannot be written to ``folder`` (checked before any work), or None.

    A folder that does not exist yet is judged by the nearest folder above it that does, by
    creating and removing a temporary file there (``os.access`` says yes to root on a
    read-only mount)."""
    if folder.exists() and not folder.is_dir():
        return "it is a file, not a folder"
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, so the folder cannot be made"
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as err:
        return f"{probe} cannot be written ({err.strerror or err})"
    return None


def _parser() -> argparse.ArgumentParser:
    """The command line: ``doctor``, ``run`` and ``grade``, with their options."""
    parser = argparse.ArgumentParser(prog="qrobust-lite", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="versions, the quantum device chosen and why, data sources, threads, GPU")
    run = sub.add_parser("run", help="run a chapter's experiment and write results JSON and figures")
    run.add_argument("experiment", choices=sorted(RUNNERS))
    run.add_argument(
        "--scale",
        choices=list(scales.SCALES),
        default="default",
        help="default: the chapter's size; full: larger (needs the full datasets); "
        "smoke: seconds, to check that it runs",
    )
    run.add_argument("--out", type=Path, default=Path("results"), help="folder for the outputs")
    run.add_argument("--data-root", help="folder with the official dataset files (else $QROBUST_DATA, cache, bundled)")
    run.add_argument(
        "--datasets",
        help="comma-separated subset of the experiment's datasets "
        "(label-refining: mnist,fashion_mnist; quantum-patches: cifar10,cinic10,mnist; "
        "poisoning, unlearning: mnist,spin)",
    )
    run.add_argument(
        "--alphas",
        help="poisoning only: comma-separated subset of the scale's noise levels "
        "(for example 0,0.3,0.6,0.9 for a long sweep's first pass)",
    )
    run.add_argument(
        "--student-epochs",
        type=int,
        help="label-refining-paper only: LeNet-5 epochs instead of the scale's (the paper gives no number)",
    )
    run.add_argument("--force", action="store_true", help="overwrite earlier outputs in --out")
    run.add_argument(
        "--executor",
        choices=sorted(experiments.EXECUTORS),
        default="local",
        help="where the runs go: local (joblib, this machine) or dask (a Dask cluster, needs the cluster extra)",
    )
    run.add_argument(
        "--scheduler",
        help="with --executor dask: the address of a running scheduler, "
        "tcp://HOST:8786 (else a local cluster is started)",
    )
    run.add_argument("--workers", type=int, help="workers of the local pool or cluster (default: all cores)")
    grade = sub.add_parser("grade", help="grade learners' notebooks against the course's exercises")
    grade.add_argument("notebooks", nargs="+", type=Path)
    grade.add_argument(
        "--chapter",
        help="the chapter every notebook answers (default: the chapter named in "
        "each file name, e.g. alice_primer.ipynb)",
    )
    grade.add_argument(
        "--csv",
        type=Path,
        help="one row per student to this CSV file (and one row per student and exercise to --long-csv)",
    )
    grade.add_argument("--long-csv", type=Path, help="default: the --csv name with -long.csv")
    grade.add_argument("--points", type=Path, help='JSON {"exercise-id": points} (default: each exercise\'s level)')
    grade.add_argument(
        "--student-pattern",
        help="regular expression with a group named student, matched "
        "against each file name (default: the file name without .ipynb)",
    )
    grade.add_argument("--jobs", type=int, help="notebooks graded at once (default: the cores)")
    grade.add_argument("--timeout", type=float, default=600, help="seconds allowed per notebook")
    grade.add_argument("--cell-timeout", type=float, default=120, help="seconds allowed per cell")
    grade.add_argument("--check-timeout", type=float, default=60, help="seconds allowed per check")
    grade.add_argument("--memory-mb", type=int, default=4096, help="address-space limit per notebook (0: none)")
    grade.add_argument(
        "--sandbox",
        choices=("auto", "required", "off"),
        default="auto",
        help="run each notebook in Linux namespaces (auto: where unshare allows it)",
    )
    grade.add_argument("--force", action="store_true", help="overwrite existing CSV files")
    return parser


def _doctor() -> int:
    """``qrobust-lite doctor``: the report, or the bad setting named without a traceback."""
    try:
        print(doctor_report())
    except ValueError as err:  # a bad setting in the environment, named in the message
        print(f"qrobust-lite doctor: {err}", file=sys.stderr)
        return 2
    return 0


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``qrobust-lite run``: every option checked before anything runs, then :func:`run_experiment`."""
    experiment = RUNNERS[args.experiment]
    datasets = experiment.default_datasets() if args.datasets is None else [d.strip() for d in args.datasets.split(",")]
    wrong = [d for d in datasets if d not in experiment.datasets]
    if wrong or not datasets or len(set(datasets)) != len(datasets):
        parser.error(
            f"--datasets for {args.experiment} must be a comma-separated subset of "
            f"{','.join(experiment.datasets)}, each named once, got {args.datasets!r}"
        )
    alphas = None
    if args.alphas is not None:
        from .. import poisoning

        try:  # chapter_grid is where a subset of the scale's alphas is checked
            alphas = [float(a) for a in args.alphas.split(",")]
            if args.experiment != "poisoning":
                raise ValueError("only poisoning sweeps over alpha")
            poisoning.chapter_grid(args.scale, alphas=alphas)
        except ValueError as err:
            parser.error(
                f"--alphas (poisoning only) must be a comma-separated subset of the {args.scale} "
                f"scale's alphas, got {args.alphas!r} for {args.experiment}: {err}"
            )
    if args.student_epochs is not None and (args.experiment != "label-refining-paper" or args.student_epochs < 1):
        parser.error(
            f"--student-epochs (label-refining-paper only) must be a positive integer, got "
            f"{args.student_epochs} for {args.experiment}"
        )
    if args.scheduler is not None and args.executor != "dask":
        parser.error("--scheduler needs --executor dask")
    cores = os.cpu_count() or 1
    if args.workers is not None and not 1 <= args.workers <= cores:
        parser.error(
            f"--workers must be from 1 to this machine's {cores} cores (each run takes one core; "
            f"more workers only slow every run), got {args.workers}"
        )
    if args.scheduler is not None and args.workers is not None:
        parser.error("--workers starts a local cluster; a running one (--scheduler) has its own workers")
    existing = [f for f in output_files(args.experiment, datasets).values() if (args.out / f).exists()]
    if existing and not args.force:
        parser.error(
            f"--out {args.out} already holds {', '.join(existing)}; pass --force to overwrite or choose another --out"
        )
    problem = unwritable(args.out)
    if problem:
        parser.error(f"--out {args.out}: {problem}; choose another --out")
    matplotlib.use("Agg")  # the runners write figures to files, never to a window
    with contextlib.ExitStack() as stack:
        grid = {"executor": args.executor, "n_jobs": args.workers or -1}
        try:
            if args.scheduler is not None:
                grid["client"] = stack.enter_context(experiments.dask_client(args.scheduler))
            args.out.mkdir(parents=True, exist_ok=True)
            written = run_experiment(
                args.experiment, args.scale, args.out, args.data_root, datasets, grid, alphas, args.student_epochs
            )
        except FileNotFoundError as err:
            print(
                f"qrobust-lite run {args.experiment}: {err} (from the command line: --data-root PATH, "
                "or $QROBUST_DATA, names a folder with the official files)",
                file=sys.stderr,
            )
            return 2
        except (ValueError, OSError) as err:  # a user's file, folder, address or setting
            print(f"qrobust-lite run {args.experiment}: {err}", file=sys.stderr)
            return 2
        except experiments.GridError as err:  # every other run was kept in the cache
            print(f"qrobust-lite run {args.experiment}: {err}", file=sys.stderr)
            return 1
    print("wrote:", *written, sep="\n  ")
    return 0


@validate_params(argv=Optional(Sequence_(TEXT, min_len=0)))
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qrobust-lite`` console script: parse, then hand over to the command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return _doctor()
    if args.command == "grade":
        return _grade(parser, args)
    return _run(parser, args)


if __name__ == "__main__":
    raise SystemExit(main())
