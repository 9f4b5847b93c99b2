"""Quantum probabilistic label refining, end to end (book: Part I, chapters 2 and 3;
paper: Qi, Peng and Ding 2025).

1. :func:`fit_refiner` compresses images into circuit inputs (PCA angles, or downsampled
   pixels as amplitudes), trains a :class:`~qrobust_lite.circuits.VQC` on the labels, and
   returns a :class:`LabelRefiner`.
2. ``LabelRefiner.class_probabilities`` gives every image its Born-rule class probabilities
   in one batched pass; :func:`~qrobust_lite.soft_labels.refine_labels` turns them into soft
   labels.
3. :func:`robustness_experiment` trains the same small CNN on one-hot labels, on label-smoothed
   labels at every candidate epsilon and on quantum-refined labels at every candidate
   temperature and mixing weight (plus temperature scaling of the one-hot model), and
   measures clean and corrupted accuracy and calibration over several seeds.
4. :func:`select` picks each kind of label's setting by one rule, the lowest mean NLL on a
   validation split held out of the training images; :func:`summarise` compares the picks on
   the test sets, and :func:`tradeoff` lays every candidate out as accuracy under corruption
   against clean ECE.

This module is the course's own first, simpler reconstruction: 8 qubits on PCA angles, 4
ansatz layers, outcome b -> class b mod K, and the candidate grids below. Its labeler is a weak
classifier (about half the test images right), so its soft labels sit close to uniform
smoothing. The paper's own labeler (a pre-network, 10 qubits, a post-network; about 97% on
MNIST) is the other option: :mod:`~qrobust_lite.hybrid_labeler`, with the paper's methods and
test conditions in :mod:`~qrobust_lite.paper_methods`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from . import calibration, corruptions, data, experiments, metrics, preprocessing, scales, validation
from .circuits import VQC
from .cnn import SmallCNN
from .soft_labels import refine_labels, smooth_labels
from .training import fit, predict_logits, train_classifier
from .validation import (
    COUNT,
    IMAGE_BATCH,
    LABELS,
    N_CLASSES,
    POSITIVE,
    PROBABILITIES,
    SEED,
    SHARE,
    Anything,
    Bool,
    Instance,
    Int,
    Options,
    Sequence_,
    validate_params,
)

#: The four ways of training and calibrating the CNN that the chapter compares.
METHODS = ("one-hot", "label smoothing", "quantum-refined", "temperature scaling")
#: Label smoothing's candidate weights epsilon.
SMOOTHINGS = (0.03, 0.1, 0.3)
#: The quantum-refined labels' candidate temperatures (below 1 sharpens the circuit's probabilities).
TEMPERATURES = (0.5, 1.0)
#: Their candidate mixing weights (0 would be one-hot); every (temperature, mix) pair is a candidate.
MIXES = (0.05, 0.15, 0.5)

#: The data sets of Part I (grey-scale, 28 x 28, ten classes).
DATASETS = ("mnist", "fashion_mnist")
RESULTS = Instance(dict, "the dict robustness_experiment returns")
METRIC = Options("accuracy", "ece", "nll")


@dataclass
class LabelRefiner:
    """A trained VQC and the preprocessing that feeds it (fitted on training images only)."""

    vqc: VQC
    encoding: str
    pca: PCA | None = None
    scaler: MinMaxScaler | None = None
    size: int | None = None
    history: list[float] = field(default_factory=list)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Circuit inputs: (N, n_qubits) angles, or (N, size*size) pixel amplitudes; float32.

        Amplitude inputs get 1e-6 added to every pixel, so that an all-black image (which has
        no direction to normalise) still encodes, as the uniform superposition.
        """
        if self.encoding == "angle":
            assert self.pca is not None and self.scaler is not None  # fitted with the refiner
            x = self.scaler.transform(self.pca.transform(images.flatten(1).numpy()))
            return torch.as_tensor(x, dtype=torch.float32)
        return preprocessing.downsample(images, self.size).flatten(1) + 1e-6

    @torch.no_grad()
    def class_probabilities(self, images: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """Born-rule class probabilities (N, K) for every image, evaluated in batches of ``chunk``."""
        return torch.cat([self.vqc(self.features(part)) for part in images.split(chunk)])


@validate_params(
    images=IMAGE_BATCH,
    labels=LABELS,
    n_classes=N_CLASSES,
    n_qubits=Int(1, 16),
    n_layers=COUNT,
    encoding=Options("angle", "amplitude"),
    epochs=COUNT,
    batch_size=COUNT,
    lr=POSITIVE,
    seed=SEED,
    progress=Bool(),
)
def fit_refiner(
    images: torch.Tensor,
    labels: torch.Tensor,
    n_classes: int,
    n_qubits: int = 8,
    n_layers: int = 4,
    encoding: str = "angle",
    epochs: int = 8,
    batch_size: int = 128,
    lr: float = 0.05,
    seed: int = 0,
    progress: bool = True,
) -> LabelRefiner:
    """Train a VQC to predict ``labels`` from ``images`` (N, 1, H, W) by cross-entropy.

    ``encoding="angle"``: PCA to ``n_qubits`` features, scaled to [0, pi]. ``"amplitude"``:
    images average-pooled to the largest s x s with s*s <= 2**n_qubits, pixels as amplitudes.
    """
    validation.non_empty(images, "images")
    validation.same_length("images", images, "labels", labels)
    validation.below(labels, n_classes)
    vqc = VQC(n_qubits, n_layers, n_classes, encoding=encoding, seed=seed)
    if encoding == "angle":
        pca = preprocessing.fit_pca(images.flatten(1), k=n_qubits, seed=seed)
        scaler = preprocessing.fit_angle_scaler(pca.transform(images.flatten(1).numpy()))
        refiner = LabelRefiner(vqc, encoding, pca=pca, scaler=scaler)
    else:
        refiner = LabelRefiner(vqc, encoding, size=int(math.isqrt(2**n_qubits)))
    refiner.history = fit(
        refiner.vqc,
        refiner.features(images),
        labels,
        born_nll,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        generator=torch.Generator().manual_seed(seed),
        progress=progress,
        desc=f"VQC ({encoding}, seed {seed})",
    )
    return refiner


@validate_params(probs=PROBABILITIES, labels=LABELS)
def born_nll(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the true classes under Born-rule class probabilities
    (B, K); 1e-12 keeps log(0) finite."""
    validation.below(labels, probs.shape[1])
    validation.same_length("probs", probs, "labels", labels)
    return -torch.log(probs[torch.arange(len(labels)), labels] + 1e-12).mean()


@validate_params(images=IMAGE_BATCH, seed=SEED)
def corrupted_test_sets(images: torch.Tensor, seed: int = 0) -> dict[tuple[str, int], torch.Tensor]:
    """Every (kind, severity >= 1) corruption of the test images, plus ("clean", 0)."""
    sets = {("clean", 0): images}
    for kind in corruptions.KINDS:
        for severity in corruptions.SEVERITIES[1:]:
            sets[(kind, severity)] = corruptions.corrupt(images, kind, severity, seed)
    return sets


#: The candidates' grids, distinct values, at least one.
SHARES = Sequence_(SHARE, distinct=True)
TEMPERATURE_GRID = Sequence_(POSITIVE, distinct=True)


@dataclass(frozen=True)
class RefiningRun:
    """One seed of :func:`robustness_experiment`: everything that determines its numbers
    (with the data it loads: :func:`refining_key`). The candidates: every value of
    ``smoothings`` (in [0, 1]) and every pair of ``temperatures`` (> 0) and ``mixes`` (in [0, 1])."""

    dataset: str = "mnist"
    seed: int = 0
    n_train: int = 2000
    n_test: int = 1000
    epochs: int = 8
    vqc_epochs: int = 8
    smoothings: tuple[float, ...] = SMOOTHINGS
    temperatures: tuple[float, ...] = TEMPERATURES
    mixes: tuple[float, ...] = MIXES
    data_root: str | None = None  # None: $QROBUST_DATA, the cache, else the bundled subset

    def __post_init__(self) -> None:
        validation.choice(self.dataset, "dataset", DATASETS)
        validation.seed(self.seed)
        # 10% of the training images, stratified, are the validation split: one per class at least
        if validation.positive_int(self.n_train, "n_train") < 100:
            raise ValueError(f"n_train must be at least 100 (10% is held out, stratified by class), got {self.n_train}")
        for name in ("n_test", "epochs", "vqc_epochs"):
            validation.positive_int(getattr(self, name), name)
        for name, grid in (("smoothings", SHARES), ("temperatures", TEMPERATURE_GRID), ("mixes", SHARES)):
            object.__setattr__(self, name, grid.check(getattr(self, name), name))
        validation.folder(self.data_root, "data_root")

    def candidates(self) -> list[tuple[str, dict]]:
        """(method, params) of every CNN this run trains: one-hot first."""
        return (
            [("one-hot", {})]
            + [("label smoothing", {"smoothing": e}) for e in self.smoothings]
            + [("quantum-refined", {"temperature": t, "mix": m}) for t in self.temperatures for m in self.mixes]
        )


def _load(dataset: str, n_train: int, n_test: int, data_root: str | None) -> tuple:
    """(train, test, corrupted test sets) of one experiment."""
    train, test = experiments.load_train_test(dataset, n_train, n_test, data_root)
    return train, test, corrupted_test_sets(test.images)


#: The data of a :class:`RefiningRun`: its seeds share one copy and one fingerprint.
RUN_DATA = experiments.RunData(_load, experiments.TRAIN_TEST_FIELDS, experiments.train_test_arrays)


@validate_params(config=Instance(RefiningRun, "a RefiningRun"))
def refining_key(config: RefiningRun) -> str:
    """The cache key of a run: its whole config, a content hash of the images and labels it
    loads (another ``$QROBUST_DATA`` gives another key) and the code version."""
    return RUN_DATA.key(config)


@validate_params(config=Instance(RefiningRun, "a RefiningRun"), progress=Bool())
def refining_run(config: RefiningRun, progress: bool = False) -> dict:
    """One seed: fit the VQC, train the CNN on every candidate label, score every test set.

    10% of the training images (stratified, seeded) are held out: the **validation split**,
    on which each candidate's NLL is measured (for :func:`select`) and the temperature of
    temperature scaling is fitted. Returns ``{"runs": [{"seed", "method", "params",
    "val_nll", "kind", "severity", "accuracy", "ece", "nll"}, ...]}``, one row per candidate
    and test set; ``params`` is ``{}``, ``{"smoothing": e}`` or ``{"temperature": t, "mix": m}``.
    """
    train, test, tests = RUN_DATA.of(config)
    seed, n_classes = config.seed, len(train.class_names)
    idx_fit, idx_val = train_test_split(
        np.arange(len(train)), test_size=0.1, stratify=train.labels.numpy(), random_state=seed
    )
    x, y = train.images[idx_fit], train.labels[idx_fit]
    x_val, y_val = train.images[idx_val], train.labels[idx_val]
    refiner = fit_refiner(x, y, n_classes, epochs=config.vqc_epochs, seed=seed, progress=progress)
    q = refiner.class_probabilities(x).double()
    runs = []

    def score(method: str, params: dict, val_logits: torch.Tensor, logits_of) -> None:
        val_nll = metrics.nll(y_val, torch.softmax(val_logits.double(), dim=1))
        for (kind, severity), images in tests.items():
            probs = torch.softmax(logits_of(images).double(), dim=1)
            runs.append(
                {
                    "seed": seed,
                    "method": method,
                    "params": params,
                    "val_nll": val_nll,
                    "kind": kind,
                    "severity": severity,
                    "accuracy": metrics.accuracy(test.labels, probs),
                    "ece": metrics.expected_calibration_error(test.labels, probs),
                    "nll": metrics.nll(test.labels, probs),
                }
            )

    for method, params in config.candidates():
        target = {
            "one-hot": lambda: y,
            "label smoothing": lambda: smooth_labels(y, n_classes, params.get("smoothing", 0.0)),
            "quantum-refined": lambda: refine_labels(q, y, params.get("temperature", 1.0), params.get("mix", 0.0)),
        }[method]()
        model = SmallCNN(n_classes, seed=seed)
        train_classifier(
            model, x, target, epochs=config.epochs, seed=seed, progress=progress, desc=f"CNN, {method} {params}"
        )
        val_logits = predict_logits(model, x_val)
        logits_of = functools.partial(predict_logits, model)
        score(method, params, val_logits, logits_of)
        if method == "one-hot":
            t_star = calibration.fit_temperature(val_logits, y_val)
            score("temperature scaling", {}, val_logits / t_star, lambda images: logits_of(images) / t_star)
    return {"runs": runs}


@validate_params(
    dataset=Options(*DATASETS),
    n_train=Int(100),
    n_test=COUNT,
    seeds=Sequence_(SEED, distinct=True),
    epochs=COUNT,
    vqc_epochs=COUNT,
    smoothings=SHARES,
    temperatures=TEMPERATURE_GRID,
    mixes=SHARES,
    data_root=experiments.DATA_ROOT,
    progress=Bool(),
    grid_options=experiments.GRID_OPTIONS,
)
def robustness_experiment(
    dataset: str = "mnist",
    n_train: int = 2000,
    n_test: int = 1000,
    seeds=(0, 1, 2),
    epochs: int = 8,
    vqc_epochs: int = 8,
    smoothings=SMOOTHINGS,
    temperatures=TEMPERATURES,
    mixes=MIXES,
    data_root: str | None = None,
    progress: bool = True,
    grid_options: dict | None = None,
) -> dict:
    """Train the CNN on every candidate label for each seed; evaluate clean and corrupted.

    One :class:`RefiningRun` per seed, run by :func:`~qrobust_lite.experiments.run_grid`
    (``grid_options``: ``cache``, ``executor``, ``n_jobs``, ``client``, ``threads``; by default
    one seed at a time, on this process's torch threads, each with its own progress bars).
    Returns ``{"config": ..., "runs": [rows of refining_run], "selected": select(...)}``.
    """
    seeds = list(seeds)
    configs = [
        RefiningRun(
            dataset,
            seed,
            n_train,
            n_test,
            epochs,
            vqc_epochs,
            tuple(smoothings),
            tuple(temperatures),
            tuple(mixes),
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
        "epochs": epochs,
        "vqc_epochs": vqc_epochs,
        "smoothings": list(first.smoothings),
        "temperatures": list(first.temperatures),
        "mixes": list(first.mixes),
        "rule": "lowest mean NLL on the validation split",
    }
    if progress:  # say where the data comes from
        train, test, _ = RUN_DATA.of(first)
        print(data.notice(dataset, "train", train), data.notice(dataset, "test", test), sep="\n")
    grid_options = {"n_jobs": 1, **(grid_options or {})}
    inner = progress and grid_options["n_jobs"] == 1 and grid_options.get("executor", "local") == "local"
    results = experiments.run_grid(
        configs,
        functools.partial(refining_run, progress=inner),
        key=refining_key,
        progress=progress,
        desc=f"{dataset}: seeds",
        **grid_options,
    )
    out = {"config": config, "runs": [row for result in results for row in result["runs"]]}
    return {**out, "selected": select(out)}


def _setting(params: dict) -> tuple:
    """A candidate's params as a hashable key: ``((name, value), ...)`` sorted by name."""
    return tuple(sorted(params.items()))


@validate_params(results=RESULTS)
def validation_nll(results: dict) -> dict[tuple[str, tuple], tuple[float, float]]:
    """Mean and standard deviation over seeds of each candidate's validation NLL:
    ``{(method, ((param, value), ...)): (mean, std)}``."""
    by: dict = {}
    for r in results["runs"]:
        if r["kind"] == "clean":
            by.setdefault((r["method"], _setting(r["params"])), []).append(r["val_nll"])
    return {k: experiments.mean_std(v) for k, v in by.items()}


@validate_params(results=RESULTS)
def select(results: dict) -> dict[str, dict]:
    """Each method's setting with the lowest mean validation NLL over seeds: ``{method: params}``
    (``{}`` for one-hot and temperature scaling, which have one).

    >>> runs = [{"method": "label smoothing", "params": {"smoothing": e}, "kind": "clean", "val_nll": v}
    ...         for e, v in ((0.1, 0.30), (0.3, 0.25))]
    >>> select({"runs": runs})
    {'label smoothing': {'smoothing': 0.3}}
    """
    best: dict = {}
    for (method, setting), (mean, _) in validation_nll(results).items():
        if method not in best or mean < best[method][1]:
            best[method] = (dict(setting), mean)
    return {m: best[m][0] for m in METHODS if m in best}


@validate_params(results=RESULTS)
def selected_runs(results: dict) -> list[dict]:
    """The rows of each method's selected setting (``results["selected"]``)."""
    chosen = results["selected"]
    return [r for r in results["runs"] if _setting(r["params"]) == _setting(chosen[r["method"]])]


def _table(rows: list[dict], metric: str) -> dict:
    """``{kind: {severity: (mean, std over seeds)}}`` of one candidate's rows."""
    clean = [r[metric] for r in rows if r["kind"] == "clean"]
    table = {}
    for kind in corruptions.KINDS:
        table[kind] = {0: experiments.mean_std(clean)}
        for severity in corruptions.SEVERITIES[1:]:
            table[kind][severity] = experiments.mean_std(
                [r[metric] for r in rows if r["kind"] == kind and r["severity"] == severity]
            )
    return table


@validate_params(results=RESULTS, metric=METRIC)
def summarise(results: dict, metric: str = "accuracy") -> dict:
    """The selected settings' mean and standard deviation over seeds (one seed: std NaN):
    ``{method: {kind: {severity: (mean, std)}}}``. The clean result (severity 0) is listed
    under every corruption kind."""
    rows = selected_runs(results)
    return {m: _table([r for r in rows if r["method"] == m], metric) for m in METHODS}


@validate_params(results=RESULTS)
def per_seed(results: dict) -> dict[tuple[str, tuple], dict[str, np.ndarray]]:
    """Every candidate's two trade-off numbers seed by seed: ``{(method, setting): {"seeds":
    (S,), "corrupted accuracy": (S,), "clean ece": (S,)}}``, seeds ascending, where a seed's
    corrupted accuracy is its mean over the 15 corrupted test sets (in [0, 1])."""
    by: dict = {}
    for r in results["runs"]:
        by.setdefault((r["method"], _setting(r["params"])), []).append(r)
    out = {}
    for key, rows in by.items():
        seeds = sorted({r["seed"] for r in rows})
        corrupted = [np.mean([r["accuracy"] for r in rows if r["seed"] == s and r["kind"] != "clean"]) for s in seeds]
        ece = [r["ece"] for s in seeds for r in rows if r["seed"] == s and r["kind"] == "clean"]
        out[key] = {
            "seeds": np.asarray(seeds),
            "corrupted accuracy": np.asarray(corrupted, dtype=float),
            "clean ece": np.asarray(ece, dtype=float),
        }
    return out


@validate_params(results=RESULTS)
def tradeoff(results: dict) -> dict[tuple[str, tuple], dict[str, tuple[float, float]]]:
    """Every candidate as the chapter's trade-off figure draws it: ``{(method, setting):
    {"corrupted accuracy": (mean, std), "clean ece": (mean, std)}}`` over the seeds of
    :func:`per_seed`."""
    seeds = per_seed(results)
    return {
        key: {k: experiments.mean_std(v[k]) for k in ("corrupted accuracy", "clean ece")} for key, v in seeds.items()
    }


@validate_params(results=RESULTS, baseline=Options(*METHODS))
def robust_and_calibrated(results: dict, baseline: str = "one-hot") -> list[tuple[str, dict]]:
    """The candidates with both a higher mean corrupted accuracy and a lower mean clean ECE than
    ``baseline`` (one of :data:`METHODS`, at its selected setting): where the paper's combination
    exists in this run. ``[(method, params), ...]``, best corrupted accuracy first."""
    validation.choice(baseline, "baseline", METHODS)
    points = tradeoff(results)
    ref = points[(baseline, _setting(results["selected"][baseline]))]
    both = [
        (k, p)
        for k, p in points.items()
        if k[0] != baseline
        and p["corrupted accuracy"][0] > ref["corrupted accuracy"][0]
        and p["clean ece"][0] < ref["clean ece"][0]
    ]
    both.sort(key=lambda kp: -kp[1]["corrupted accuracy"][0])
    return [(method, dict(setting)) for (method, setting), _ in both]


@validate_params(results=RESULTS, method=Options(*METHODS), baseline=Options(*METHODS))
def best_relative_gain(results: dict, method: str, baseline: str = "one-hot") -> tuple[float, str, int]:
    """The largest (acc_method - acc_baseline) / acc_baseline over corrupted sets (mean over seeds),
    with the corruption kind and severity where it occurs; both at their selected settings."""
    table = summarise(results)
    return max(
        (metrics.relative_change(table[method][k][s][0], table[baseline][k][s][0]), k, s)
        for k in corruptions.KINDS
        for s in corruptions.SEVERITIES[1:]
    )


@validate_params(method=Options(*METHODS), params=Instance(dict, "a dict of a candidate's settings"))
def label_name(method: str, params: dict) -> str:
    """A candidate as the book prints it: ``"quantum-refined (T 0.5, mix 0.15)"``."""
    short = {"smoothing": "eps", "temperature": "T", "mix": "mix"}
    shown = [f"{short[k]} {params[k]:g}" for k in short if k in params]
    return method + (f" ({', '.join(shown)})" if shown else "")


@validate_params(results=RESULTS, ax=Anything("a Matplotlib Axes, or None"))
def plot_tradeoff(results: dict, ax=None):
    """Accuracy under corruption against clean ECE for every candidate, mean +- std over seeds:
    one line per family (smoothing over epsilon, refined over the mixing weight at each
    temperature), each starting at one-hot (epsilon = mix = 0); the selected settings ringed.
    Up and to the left is better on both."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5.4))
    points, chosen, config = tradeoff(results), results["selected"], results["config"]
    origin = points[("one-hot", ())]
    lines: list[tuple[str, list[tuple]]] = [("label smoothing", [(("smoothing", e),) for e in config["smoothings"]])]
    lines += [
        (f"quantum-refined, T {t:g}", [(("mix", m), ("temperature", t)) for m in config["mixes"]])
        for t in config["temperatures"]
    ]
    for i, (label, settings) in enumerate(lines):
        method = label.split(",")[0]
        pts = [origin] + [points[(method, s)] for s in settings]
        x, y = (np.array([p[k][0] for p in pts]) for k in ("clean ece", "corrupted accuracy"))
        xe, ye = (np.array([p[k][1] for p in pts]) for k in ("clean ece", "corrupted accuracy"))
        ax.errorbar(x, y, xerr=xe, yerr=ye, marker="o", ms=4, capsize=2, color=f"C{i + 1}", label=label)
        for (k, v), xi, yi in zip([s[0] for s in settings], x[1:], y[1:]):
            ax.annotate(f"{v:g}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=9, color=f"C{i + 1}")
        chosen_setting = _setting(chosen[method])
        for s, xi, yi in zip(settings, x[1:], y[1:]):
            if s == chosen_setting:
                ax.plot(xi, yi, "o", ms=12, mfc="none", mec="black")
    for method, marker in (("one-hot", "s"), ("temperature scaling", "D")):
        p = points[(method, ())]
        ax.errorbar(
            p["clean ece"][0],
            p["corrupted accuracy"][0],
            xerr=p["clean ece"][1],
            yerr=p["corrupted accuracy"][1],
            marker=marker,
            ms=6,
            color="C0" if method == "one-hot" else "0.4",
            capsize=2,
            ls="none",
            label=method,
        )
    ax.set(xlabel="clean ECE (lower is better)", ylabel="mean accuracy on the 15 corrupted sets")
    ax.plot([], [], "o", ms=10, mfc="none", mec="black", label="selected (lowest validation NLL)")
    # below the axes, clear of the x label, so that it never covers a point
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, 0.0), borderaxespad=4, ncol=2)
    ax.grid(alpha=0.3)
    return ax


@validate_params(results=RESULTS, axes=Anything("Matplotlib Axes, one per corruption kind, or None"), metric=METRIC)
def plot_accuracy_vs_severity(results: dict, axes=None, metric: str = "accuracy"):
    """One panel per corruption kind: mean +- std over seeds against severity, per method at
    its selected setting. Without ``axes``, two panels a row and the legend in a free cell."""
    import matplotlib.pyplot as plt

    spare, own = None, axes is None
    if axes is None:
        n = len(corruptions.KINDS)
        rows = -(-n // 2)
        _, grid = plt.subplots(rows, 2, figsize=(7, 2.7 * rows), sharey=True, squeeze=False)
        axes, free = grid.flat[:n], grid.flat[n:]
        for ax in free:
            ax.axis("off")
        spare = free[0] if len(free) else None
        for ax in grid[:, 0]:
            ax.set_ylabel(metric)
    table = summarise(results, metric)
    for ax, kind in zip(axes, corruptions.KINDS):
        for method in METHODS:
            sev = list(corruptions.SEVERITIES)
            mean = np.array([table[method][kind][s][0] for s in sev])
            std = np.array([table[method][kind][s][1] for s in sev])
            ax.errorbar(
                sev, mean, yerr=std, marker="o", ms=3, capsize=2, label=label_name(method, results["selected"][method])
            )
        ax.set(title=kind.replace("_", " "), xlabel="severity")
    axes[0].set_ylabel(metric)
    if spare is not None:
        spare.legend(*axes[0].get_legend_handles_labels(), fontsize=9, loc="center")
    else:
        axes[-1].legend(fontsize=9)
    if own:
        axes[0].figure.tight_layout()
    return axes


@validate_params(
    scale=scales.SCALE,
    datasets=Sequence_(Options(*DATASETS), distinct=True),
    data_root=experiments.DATA_ROOT,
    grid_options=experiments.GRID_OPTIONS,
)
def report(
    scale: str = "default", datasets=DATASETS, data_root: str | None = None, grid_options: dict | None = None
) -> tuple[dict, dict]:
    """:func:`robustness_experiment` at ``scale`` on each dataset, shaped for a record
    (``qrobust-lite run label-refining``): ``({"results": {dataset: ...}}, figures)``. Each
    dataset's results add the summary of accuracy and ECE, the best gain over one-hot, the
    trade-off and the labels both robust and calibrated; its figures are accuracy and ECE
    against severity and the trade-off."""
    settings = scales.settings("label_refining", scale)
    results, figures = {}, {}
    for dataset in datasets:
        res = robustness_experiment(dataset, data_root=data_root, grid_options=grid_options, **settings)
        results[dataset] = {
            **res,
            "summary": {metric: summarise(res, metric) for metric in ("accuracy", "ece")},
            "best_relative_gain_over_one_hot": {m: best_relative_gain(res, m) for m in METHODS if m != "one-hot"},
            "tradeoff": {label_name(m, dict(s)): p for (m, s), p in tradeoff(res).items()},
            "robust_and_calibrated": {
                b: [label_name(*c) for c in robust_and_calibrated(res, b)] for b in ("one-hot", "label smoothing")
            },
        }
        title = f"{dataset}: %s (mean +- std over seeds {list(settings['seeds'])})"
        for metric in ("accuracy", "ece"):
            axes = plot_accuracy_vs_severity(res, metric=metric)
            axes[0].figure.suptitle(title % metric)
            figures[f"{dataset}_{metric}"] = axes[0].figure
        ax = plot_tradeoff(res)
        ax.set_title(title % "every candidate label", fontsize=9)
        figures[f"{dataset}_tradeoff"] = ax.figure
    return {"results": results}, figures
