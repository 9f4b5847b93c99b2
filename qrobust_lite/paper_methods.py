"""Paper A as published: its four methods, its student, its test conditions and the control
that tells whether the quantum part matters (book: Part I, *Training a CNN on quantum-refined
labels*, section *The paper's four methods*; appendix *Results at the papers' scale*; paper:
Qi, Peng and Ding 2025, Tables 1-3).

One seed of :func:`paper_run`:

1. 10% of the training images (stratified, seeded) are held out as the validation split.
2. Two teachers are trained on the rest with the paper's labeler schedule
   (:func:`~qrobust_lite.hybrid_labeler.fit_labeler`): the quantum labeler, and the
   **classical teacher**, the same network with a classical layer in the circuit's place.
   Their soft labels are read from :data:`SHOTS` measurements per image, as the paper's were.
3. A :class:`~qrobust_lite.cnn.LeNet5` student (Adam 1e-4, batch 64) is trained per method:
   M1 ``one-hot``; M2 ``smoothing`` at every candidate epsilon (the paper gives none; the
   summary keeps the one with the lowest mean validation NLL, the rule of the course's own
   comparison); M3 ``quantum`` (the labeler's soft labels on every image); M4
   ``quantum-confident`` (only the images whose soft label puts at least :data:`CONFIDENCE` on
   one class); and the same two with the classical teacher.
4. Every student is scored on :func:`test_conditions`: clean, Gaussian noise of standard
   deviation 0.1-0.5, and the same noise on images turned by 20 degrees (accuracy, ECE, NLL).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from . import corruptions, experiments, metrics, scales, validation
from .cnn import LeNet5
from .hybrid_labeler import confident, fit_labeler, soft_labels
from .label_refining import SHARES, SMOOTHINGS
from .soft_labels import smooth_labels
from .training import predict_logits, train_classifier
from .validation import (
    COUNT,
    IMAGE_BATCH,
    SEED,
    TEXT,
    Anything,
    Bool,
    Instance,
    Int,
    Optional,
    Options,
    Sequence_,
    validate_params,
)

DATASETS = ("mnist", "fashion_mnist")
#: The methods as the stored summary names them (M1-M4, then the classical-teacher control).
METHODS = ("one-hot", "smoothing", "quantum", "quantum-confident", "classical-teacher", "classical-teacher-confident")
#: Which teacher's soft labels each method trains on.
TEACHER_OF = {
    "quantum": "quantum",
    "quantum-confident": "quantum",
    "classical-teacher": "classical",
    "classical-teacher-confident": "classical",
}
#: The paper's noise levels (standard deviations in pixel units).
NOISE_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5)
#: The paper's fixed rotation of the turned test sets, in degrees.
DEGREES = 20.0
#: Measurements per image for the soft labels (the paper's M = 1,000).
SHOTS = 1000
#: M4 keeps the images whose soft label puts at least this much on one class (the paper's).
CONFIDENCE = 0.9
#: The paper's labeler per dataset, its number of rotation-and-CZ layers.
LABELER_LAYERS = {"mnist": 3, "fashion_mnist": 2}
#: The paper's labeler per dataset, its training epochs.
LABELER_EPOCHS = {"mnist": 5, "fashion_mnist": 25}
#: The student's Adam learning rate (the paper's).
STUDENT_LR = 1e-4
#: The student's batch size (the paper gives none; the labeler's).
STUDENT_BATCH = 64

#: The paper's Tables 1-3, test accuracy in %, typed in once (M1-M4 by this module's names).
PAPER_TABLES = {
    "mnist": {
        "one-hot": {
            "noise-0.1": 99.14,
            "noise-0.2": 98.12,
            "noise-0.3": 85.50,
            "noise-0.4": 62.59,
            "noise-0.5": 37.68,
            "noise-0.1+rot20": 95.24,
            "noise-0.2+rot20": 91.58,
            "noise-0.3+rot20": 79.52,
            "noise-0.4+rot20": 36.03,
            "noise-0.5+rot20": 31.14,
        },
        "smoothing": {
            "noise-0.1": 99.30,
            "noise-0.2": 98.60,
            "noise-0.3": 73.51,
            "noise-0.4": 51.01,
            "noise-0.5": 23.32,
            "noise-0.1+rot20": 96.81,
            "noise-0.2+rot20": 91.15,
            "noise-0.3+rot20": 60.04,
            "noise-0.4+rot20": 26.21,
            "noise-0.5+rot20": 24.83,
        },
        "quantum": {
            "noise-0.1": 97.87,
            "noise-0.2": 97.35,
            "noise-0.3": 95.76,
            "noise-0.4": 81.34,
            "noise-0.5": 70.13,
            "noise-0.1+rot20": 91.56,
            "noise-0.2+rot20": 90.74,
            "noise-0.3+rot20": 85.52,
            "noise-0.4+rot20": 76.57,
            "noise-0.5+rot20": 61.03,
        },
        "quantum-confident": {
            "noise-0.1": 97.95,
            "noise-0.2": 97.82,
            "noise-0.3": 96.05,
            "noise-0.4": 80.66,
            "noise-0.5": 52.82,
            "noise-0.1+rot20": 92.18,
            "noise-0.2+rot20": 91.14,
            "noise-0.3+rot20": 83.71,
            "noise-0.4+rot20": 66.20,
            "noise-0.5+rot20": 58.35,
        },
    },
    "fashion_mnist": {
        "one-hot": {"clean": 91.32, "noise-0.1": 84.55, "noise-0.2": 70.88, "noise-0.3": 49.80},
        "smoothing": {"clean": 91.94, "noise-0.1": 73.36, "noise-0.2": 65.24, "noise-0.3": 40.09},
        "quantum": {"clean": 88.92, "noise-0.1": 87.53, "noise-0.2": 81.80, "noise-0.3": 70.92},
        "quantum-confident": {"clean": 83.51, "noise-0.1": 82.97, "noise-0.2": 81.73, "noise-0.3": 72.41},
    },
}
#: The paper's labeler test accuracy per dataset.
PAPER_TEACHER_ACCURACY = {"mnist": 0.97, "fashion_mnist": 0.8893}
#: The images M4 kept in the paper, and of how many (MNIST only).
PAPER_KEPT = {"mnist": (54887, 60000)}


def conditions() -> tuple[str, ...]:
    """The names of :func:`test_conditions`, in order: ``clean``, ``noise-0.1`` ... ``noise-0.5``,
    ``noise-0.1+rot20`` ... ``noise-0.5+rot20``."""
    rot = f"+rot{DEGREES:g}"
    return ("clean",) + tuple(f"noise-{s:g}" for s in NOISE_LEVELS) + tuple(f"noise-{s:g}{rot}" for s in NOISE_LEVELS)


@validate_params(images=IMAGE_BATCH, seed=SEED)
def test_conditions(images: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """The paper's test sets from clean images (N, 1, 28, 28) in [0, 1]: ``{name: images}``.

    Noise of standard deviation sigma is added to every pixel and the result clipped to [0, 1]
    (the paper does not say; clipping keeps the images in the range the student was trained
    on). For the rotated sets the clean image is turned by 20 degrees first, then the noise is
    added. Each sigma's noise is drawn from a generator seeded by ``seed`` and sigma's index.

    >>> sets = test_conditions(torch.zeros(2, 1, 28, 28))
    >>> list(sets)[:3], float(sets["noise-0.1"].min())
    (['clean', 'noise-0.1', 'noise-0.2'], 0.0)
    """
    turned = corruptions.rotate(images, DEGREES)
    noisy = [
        corruptions.add_noise(base, sigma, seed * 100 + i)
        for base in (images, turned)
        for i, sigma in enumerate(NOISE_LEVELS)
    ]
    return dict(zip(conditions(), [images] + noisy))


RESULTS = Instance(dict, "the dict paper_experiment returns")


@dataclass(frozen=True)
class PaperRun:
    """One seed of :func:`paper_experiment`: everything that determines its numbers.

    ``n_train``/``n_test``: images drawn class-balanced from each split (``None``: all of it);
    ``labeler_epochs``/``labeler_layers``: ``None`` takes the paper's for the dataset
    (:data:`LABELER_EPOCHS`, :data:`LABELER_LAYERS`); ``shots``: measurements per soft label
    (``None``: the exact probabilities); ``smoothings``: M2's candidate epsilons."""

    dataset: str = "mnist"
    seed: int = 0
    n_train: int | None = 2000
    n_test: int | None = 1000
    student_epochs: int = 10
    labeler_epochs: int | None = None
    labeler_layers: int | None = None
    shots: int | None = SHOTS
    smoothings: tuple[float, ...] = SMOOTHINGS
    data_root: str | None = None  # None: $QROBUST_DATA, the cache, else the bundled subset

    def __post_init__(self) -> None:
        validation.choice(self.dataset, "dataset", DATASETS)
        validation.seed(self.seed)
        if self.n_train is not None and validation.positive_int(self.n_train, "n_train") < 100:
            raise ValueError(f"n_train must be at least 100 (10% is held out, stratified by class), got {self.n_train}")
        for name in ("n_test", "labeler_epochs", "labeler_layers", "shots"):
            if getattr(self, name) is not None:
                validation.positive_int(getattr(self, name), name)
        validation.positive_int(self.student_epochs, "student_epochs")
        object.__setattr__(self, "smoothings", SHARES.check(self.smoothings, "smoothings"))
        validation.folder(self.data_root, "data_root")

    @property
    def epochs_of_labeler(self) -> int:
        return self.labeler_epochs or LABELER_EPOCHS[self.dataset]

    @property
    def layers_of_labeler(self) -> int:
        return self.labeler_layers or LABELER_LAYERS[self.dataset]


#: The data of a :class:`PaperRun`: its seeds share one copy and one fingerprint.
RUN_DATA = experiments.RunData(
    experiments.load_train_test, experiments.TRAIN_TEST_FIELDS, experiments.train_test_arrays
)


@validate_params(config=Instance(PaperRun, "a PaperRun"))
def paper_key(config: PaperRun) -> str:
    """The cache key of a run: its config, a content hash of the data it loads, the code version."""
    return RUN_DATA.key(config)


def _teacher(config: PaperRun, circuit: str, x: torch.Tensor, y: torch.Tensor, test, progress: bool) -> tuple:
    """Train one teacher; return (its record, its soft labels on x)."""
    n_classes = len(test.class_names)
    start = time.perf_counter()
    labeler = fit_labeler(
        x,
        y,
        n_classes,
        config.layers_of_labeler,
        config.epochs_of_labeler,
        circuit=circuit,
        seed=config.seed,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    exact = soft_labels(labeler, x)
    soft = exact if config.shots is None else soft_labels(labeler, x, config.shots, seed=config.seed)
    on_test = soft_labels(labeler, test.images)
    record = {
        "test_accuracy": metrics.accuracy(test.labels, on_test),
        "test_accuracy_shots": (
            None
            if config.shots is None
            else metrics.accuracy(test.labels, soft_labels(labeler, test.images, config.shots, seed=config.seed))
        ),
        "train_accuracy": metrics.accuracy(y, soft),
        "kept": int(confident(soft, CONFIDENCE).sum()),
        "n_train": len(x),
        "train_seconds": seconds,
        "samples_per_second": len(x) * config.epochs_of_labeler / seconds,
        "shots_vs_exact_tv": float(0.5 * (soft - exact).abs().sum(1).mean()),
        "mean_true_class_probability": float(soft[torch.arange(len(y)), y].mean()),
    }
    return record, soft


@validate_params(config=Instance(PaperRun, "a PaperRun"), progress=Bool())
def paper_run(config: PaperRun, progress: bool = False) -> dict:
    """One seed: both teachers, every method's student, every test condition.

    Returns ``{"seed", "teachers": {"quantum" | "classical": {test_accuracy, test_accuracy_shots,
    train_accuracy, kept, n_train, train_seconds, samples_per_second, shots_vs_exact_tv,
    mean_true_class_probability}}, "rows": [{"method", "params", "n_images", "val_nll",
    "condition", "accuracy", "ece", "nll"}, ...]}``.
    """
    train, test = RUN_DATA.of(config)
    seed, n_classes = config.seed, len(train.class_names)
    idx_fit, idx_val = train_test_split(
        np.arange(len(train)), test_size=0.1, stratify=train.labels.numpy(), random_state=seed
    )
    x, y = train.images[idx_fit], train.labels[idx_fit]
    x_val, y_val = train.images[idx_val], train.labels[idx_val]
    tests = test_conditions(test.images, seed)
    teachers, soft = {}, {}
    for circuit in ("quantum", "classical"):
        teachers[circuit], soft[circuit] = _teacher(config, circuit, x, y, test, progress)
    students: list[tuple[str, dict, torch.Tensor, torch.Tensor]] = [("one-hot", {}, x, y)]
    students += [("smoothing", {"smoothing": e}, x, smooth_labels(y, n_classes, e)) for e in config.smoothings]
    for method, teacher in TEACHER_OF.items():
        keep = (
            confident(soft[teacher], CONFIDENCE)
            if method.endswith("confident")
            else torch.ones(len(y), dtype=torch.bool)
        )
        students.append((method, {}, x[keep], soft[teacher][keep]))
    rows = []
    for method, params, images, targets in students:
        if not len(images):  # M4 with no confident image: nothing to train on
            continue
        model = LeNet5(n_classes, seed=seed)
        train_classifier(
            model,
            images,
            targets,
            epochs=config.student_epochs,
            batch_size=STUDENT_BATCH,
            lr=STUDENT_LR,
            seed=seed,
            progress=progress,
            desc=f"LeNet-5, {method} {params}",
        )
        val_nll = metrics.nll(y_val, torch.softmax(predict_logits(model, x_val).double(), dim=1))
        for name, images_c in tests.items():
            probs = torch.softmax(predict_logits(model, images_c).double(), dim=1)
            rows.append(
                {
                    "method": method,
                    "params": params,
                    "n_images": len(images),
                    "val_nll": val_nll,
                    "condition": name,
                    "accuracy": metrics.accuracy(test.labels, probs),
                    "ece": metrics.expected_calibration_error(test.labels, probs),
                    "nll": metrics.nll(test.labels, probs),
                }
            )
    return {"seed": seed, "teachers": teachers, "rows": rows}


@validate_params(
    dataset=Options(*DATASETS),
    n_train=Optional(Int(100)),
    n_test=Optional(COUNT),
    seeds=Sequence_(SEED, distinct=True),
    student_epochs=COUNT,
    labeler_epochs=Optional(COUNT),
    labeler_layers=Optional(COUNT),
    shots=Optional(COUNT),
    smoothings=SHARES,
    data_root=experiments.DATA_ROOT,
    progress=Bool(),
    grid_options=experiments.GRID_OPTIONS,
)
def paper_experiment(
    dataset: str = "mnist",
    n_train: int | None = 2000,
    n_test: int | None = 1000,
    seeds=(0, 1, 2),
    student_epochs: int = 10,
    labeler_epochs: int | None = None,
    labeler_layers: int | None = None,
    shots: int | None = SHOTS,
    smoothings=SMOOTHINGS,
    data_root: str | None = None,
    progress: bool = True,
    grid_options: dict | None = None,
) -> dict:
    """:func:`paper_run` for each seed, through :func:`~qrobust_lite.experiments.run_grid`
    (``grid_options`` as there; by default one seed at a time). Returns ``{"config": ...,
    "runs": [one paper_run result per seed]}``."""
    seeds = list(seeds)
    configs = [
        PaperRun(
            dataset,
            seed,
            n_train,
            n_test,
            student_epochs,
            labeler_epochs,
            labeler_layers,
            shots,
            tuple(smoothings),
            None if data_root is None else str(data_root),
        )
        for seed in seeds
    ]
    first = configs[0]
    config = {
        "dataset": dataset,
        "n_train": n_train,
        "n_test": n_test,
        "seeds": seeds,
        "student_epochs": student_epochs,
        "labeler_epochs": first.epochs_of_labeler,
        "labeler_layers": first.layers_of_labeler,
        "shots": shots,
        "smoothings": list(first.smoothings),
        "confidence": CONFIDENCE,
        "validation": "10% of the training images, stratified",
        "rule": "smoothing epsilon with the lowest mean validation NLL",
    }
    grid_options = {"n_jobs": 1, **(grid_options or {})}
    inner = progress and grid_options["n_jobs"] == 1 and grid_options.get("executor", "local") == "local"
    runs = experiments.run_grid(
        configs,
        functools.partial(paper_run, progress=inner),
        key=paper_key,
        progress=progress,
        desc=f"{dataset}: seeds",
        **grid_options,
    )
    return {"config": config, "runs": list(runs)}


@validate_params(results=RESULTS)
def chosen_smoothing(results: dict) -> float:
    """M2's epsilon: the candidate with the lowest validation NLL, averaged over seeds."""
    by: dict[float, list[float]] = {}
    for run in results["runs"]:
        for r in run["rows"]:
            if r["method"] == "smoothing" and r["condition"] == "clean":
                by.setdefault(r["params"]["smoothing"], []).append(r["val_nll"])
    if not by:
        raise ValueError("results hold no smoothing rows")
    return min(by, key=lambda e: float(np.mean(by[e])))


@validate_params(results=RESULTS, metric=Options("accuracy", "ece", "nll"))
def per_seed(results: dict, metric: str = "accuracy") -> dict[str, dict[str, list[float]]]:
    """``{method: {condition: [one value per seed, seeds ascending]}}``; M2 at
    :func:`chosen_smoothing`. A method missing in a seed (M4 with nothing confident) is absent."""
    eps = chosen_smoothing(results)
    runs = sorted(results["runs"], key=lambda run: run["seed"])
    out: dict[str, dict[str, list[float]]] = {}
    for method in METHODS:
        rows = [
            [
                r
                for r in run["rows"]
                if r["method"] == method and (method != "smoothing" or r["params"]["smoothing"] == eps)
            ]
            for run in runs
        ]
        if not all(rows):
            continue
        out[method] = {
            c: [next(r[metric] for r in seed_rows if r["condition"] == c) for seed_rows in rows] for c in conditions()
        }
    return out


@validate_params(by_dataset=Instance(dict, "{dataset: the dict paper_experiment returns}"))
def summary(by_dataset: dict[str, dict]) -> dict:
    """The stored summary: ``{dataset: {"teacher_accuracy": {"quantum", "classical"}, "kept_by_confidence",
    "accuracy": {method: {condition: [per-seed]}}, "ece": ..., "nll": ..., "seeds", "smoothing_epsilon",
    "teachers_per_seed": {...}}}``, teacher figures as means over seeds (``kept_by_confidence``
    rounded to an integer; the quantum teacher's)."""
    out = {}
    for dataset, results in by_dataset.items():
        runs = sorted(results["runs"], key=lambda run: run["seed"])
        teachers = {
            c: {k: [run["teachers"][c][k] for run in runs] for k in runs[0]["teachers"][c]}
            for c in ("quantum", "classical")
        }
        out[dataset] = {
            "teacher_accuracy": {c: float(np.mean(teachers[c]["test_accuracy"])) for c in teachers},
            "kept_by_confidence": int(round(np.mean(teachers["quantum"]["kept"]))),
            "n_train": runs[0]["teachers"]["quantum"]["n_train"],
            "seeds": [run["seed"] for run in runs],
            "smoothing_epsilon": chosen_smoothing(results),
            **{m: per_seed(results, m) for m in ("accuracy", "ece", "nll")},
            "teachers_per_seed": teachers,
        }
    return out


@validate_params(
    summary_=Instance(dict, "the dict summary returns"), dataset=TEXT, axes=Anything("two Matplotlib Axes, or None")
)
def plot_against_paper(summary_: dict, dataset: str, axes=None):
    """Test accuracy against the noise's standard deviation, without and with the 20 degree
    turn: every method's mean +- std over seeds (solid), the paper's values where it gives them
    (dashed, open markers); without ``axes``, the two panels one above the other. ``summary_`` is
    :func:`summary`'s output."""
    import matplotlib.pyplot as plt

    if dataset not in summary_:
        raise ValueError(f"dataset must be one of the summary's {sorted(summary_)}, got {dataset!r}")
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(7, 6.4), sharey=True)
        axes[1].set_ylabel("test accuracy")
    accuracy, paper = summary_[dataset]["accuracy"], PAPER_TABLES.get(dataset, {})
    names = conditions()
    for ax, turned in zip(axes, (False, True)):
        chosen = [n for n in names[1:] if n.endswith(f"+rot{DEGREES:g}") == turned]
        sigma = [0.0] + list(NOISE_LEVELS)
        for i, method in enumerate(m for m in METHODS if m in accuracy):
            keys = ["clean"] + chosen
            values = np.array([accuracy[method][k] for k in keys], dtype=float)
            if turned:  # no clean-and-turned set: start at the first noise level
                sigma_m, values = sigma[1:], values[1:]
            else:
                sigma_m = sigma
            ax.errorbar(
                sigma_m,
                values.mean(axis=1),
                yerr=values.std(axis=1),
                marker="o",
                ms=4,
                capsize=2,
                color=f"C{i}",
                label=method,
            )
            shown = [(s, paper[method][k] / 100) for s, k in zip(sigma, keys) if k in paper.get(method, {})]
            if shown:
                ax.plot(*zip(*shown), ls="--", marker="o", mfc="none", color=f"C{i}", alpha=0.7)
        ax.set(
            xlabel="noise standard deviation",
            title=f"{dataset}: noise" + (f" + {DEGREES:g} deg turn" if turned else ""),
        )
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy")
    axes[0].plot([], [], ls="--", marker="o", mfc="none", color="0.4", label="the paper (one run)")
    axes[0].legend(fontsize=9)
    return axes[0]


@validate_params(
    scale=scales.SCALE,
    datasets=Sequence_(Options(*DATASETS), distinct=True),
    data_root=experiments.DATA_ROOT,
    grid_options=experiments.GRID_OPTIONS,
    student_epochs=Optional(COUNT),
)
def report(
    scale: str = "default",
    datasets=DATASETS,
    data_root: str | None = None,
    grid_options: dict | None = None,
    student_epochs: int | None = None,
) -> tuple[dict, dict]:
    """:func:`paper_experiment` at ``scale`` on each dataset, shaped for a record
    (``qrobust-lite run label-refining-paper``): ``({"results", "summary"}, figures)``, the
    summary the appendix reads and a figure per dataset. ``student_epochs`` replaces the
    scale's number of LeNet-5 epochs (the paper gives none)."""
    settings = dict(scales.settings("paper_methods", scale))
    if student_epochs is not None:
        settings["student_epochs"] = student_epochs
    results = {d: paper_experiment(d, data_root=data_root, grid_options=grid_options, **settings) for d in datasets}
    summary_ = summary(results)
    return {"results": results, "summary": summary_}, {d: plot_against_paper(summary_, d).figure for d in datasets}
