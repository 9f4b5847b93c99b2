"""Quantum probabilistic label refining, end to end (book: Part I, chapters 2 and 3;
paper: Qi, Peng and Ding 2025).

1. :func:`fit_refiner` compresses images into circuit inputs (PCA angles, or downsampled
   pixels as amplitudes), trains a :class:`~qrobust_lite.circuits.VQC` on the labels, and
   returns a :class:`LabelRefiner`.
2. ``LabelRefiner.class_probabilities`` gives every image its Born-rule class probabilities
   in one batched pass; :func:`~qrobust_lite.soft_labels.refine_labels` turns them into soft
   labels.
3. :func:`robustness_experiment` trains the same small CNN on one-hot, label-smoothed and
   quantum-refined labels (plus temperature scaling of the one-hot model) and measures clean
   and corrupted accuracy and calibration over several seeds.

Details the paper leaves open are the course's own choices, stated in the chapters: 8 qubits,
4 ansatz layers, outcome b -> class b mod K, temperature and mixing weight as arguments.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from . import calibration, corruptions, data, experiments, metrics, preprocessing, validation
from .circuits import VQC
from .cnn import SmallCNN
from .soft_labels import refine_labels, smooth_labels
from .training import fit, predict_logits, train_classifier

METHODS = ("one-hot", "label smoothing", "quantum-refined", "temperature scaling")

#: The data sets of Part I (grey-scale, 28 x 28, ten classes).
DATASETS = ("mnist", "fashion_mnist")


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
            x = self.scaler.transform(self.pca.transform(images.flatten(1).numpy()))
            return torch.as_tensor(x, dtype=torch.float32)
        return preprocessing.downsample(images, self.size).flatten(1) + 1e-6

    @torch.no_grad()
    def class_probabilities(self, images: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """Born-rule class probabilities (N, K) for every image, evaluated in batches of ``chunk``."""
        return torch.cat([self.vqc(self.features(part)) for part in images.split(chunk)])


def fit_refiner(images: torch.Tensor, labels: torch.Tensor, n_classes: int, n_qubits: int = 8,
                n_layers: int = 4, encoding: str = "angle", epochs: int = 8, batch_size: int = 128,
                lr: float = 0.05, seed: int = 0, progress: bool = True) -> LabelRefiner:
    """Train a VQC to predict ``labels`` from ``images`` (N, 1, H, W) by cross-entropy.

    ``encoding="angle"``: PCA to ``n_qubits`` features, scaled to [0, pi]. ``"amplitude"``:
    images average-pooled to the largest s x s with s*s <= 2**n_qubits, pixels as amplitudes.
    """
    if encoding not in ("angle", "amplitude"):
        raise ValueError(f"encoding must be 'angle' or 'amplitude', got {encoding!r}")
    validation.non_empty(validation.image_batch(images), "images")
    validation.labels(labels)
    validation.same_length("images", images, "labels", labels)
    validation.below(labels, validation.positive_int(n_classes, "n_classes"))
    validation.positive_int(n_qubits, "n_qubits")
    validation.seed(seed)
    if encoding == "angle":
        pca = preprocessing.fit_pca(images.flatten(1), k=n_qubits, seed=seed)
        scaler = preprocessing.fit_angle_scaler(pca.transform(images.flatten(1).numpy()))
        refiner = LabelRefiner(None, encoding, pca=pca, scaler=scaler)
    else:
        refiner = LabelRefiner(None, encoding, size=int(math.isqrt(2 ** n_qubits)))
    refiner.vqc = VQC(n_qubits, n_layers, n_classes, encoding=encoding, seed=seed)
    refiner.history = fit(refiner.vqc, refiner.features(images), labels, born_nll, epochs=epochs,
                          batch_size=batch_size, lr=lr, generator=torch.Generator().manual_seed(seed),
                          progress=progress, desc=f"VQC ({encoding}, seed {seed})")
    return refiner


def born_nll(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the true classes under Born-rule class probabilities
    (B, K); 1e-12 keeps log(0) finite."""
    validation.probabilities(probs, "probs")
    validation.below(validation.labels(labels), probs.shape[1])
    validation.same_length("probs", probs, "labels", labels)
    return -torch.log(probs[torch.arange(len(labels)), labels] + 1e-12).mean()


def corrupted_test_sets(images: torch.Tensor, seed: int = 0) -> dict[tuple[str, int], torch.Tensor]:
    """Every (kind, severity >= 1) corruption of the test images, plus ("clean", 0)."""
    validation.image_batch(images)
    validation.seed(seed)
    sets = {("clean", 0): images}
    for kind in corruptions.KINDS:
        for severity in corruptions.SEVERITIES[1:]:
            sets[(kind, severity)] = corruptions.corrupt(images, kind, severity, seed)
    return sets


@dataclass(frozen=True)
class RefiningRun:
    """One seed of :func:`robustness_experiment`: everything that determines its numbers
    (with the data it loads: :func:`refining_key`)."""

    dataset: str = "mnist"
    seed: int = 0
    n_train: int = 2000
    n_test: int = 1000
    epochs: int = 8
    vqc_epochs: int = 8
    temperature: float = 1.0
    mix: float = 0.5
    smoothing: float = 0.1
    root: str | None = None   # None: $QROBUST_DATA, the cache, else the bundled subset

    def __post_init__(self) -> None:
        validation.choice(self.dataset, "dataset", DATASETS)
        validation.seed(self.seed)
        # 10% of the training images, stratified, fit the temperature: one per class at least
        if validation.positive_int(self.n_train, "n_train") < 100:
            raise ValueError(f"n_train must be at least 100 (10% is held out, stratified by class), "
                             f"got {self.n_train}")
        for name in ("n_test", "epochs", "vqc_epochs"):
            validation.positive_int(getattr(self, name), name)
        validation.positive(self.temperature, "temperature")
        validation.share(self.mix, "mix")
        validation.share(self.smoothing, "smoothing")
        validation.folder(self.root, "root")


@functools.lru_cache(maxsize=4)
def _experiment_data(dataset: str, n_train: int, n_test: int, root: str | None, data_env: str) -> tuple:
    """(train, test, corrupted test sets) of one experiment, loaded once per process and data
    source: the seeds of a grid share them, and nothing changes them in place."""
    train = data.load(dataset, "train", n_train, seed=0, root=root, verbose=False)
    test = data.load(dataset, "test", n_test, seed=0, root=root, verbose=False)
    return train, test, corrupted_test_sets(test.images)


def _data_args(config: RefiningRun) -> tuple:
    return config.dataset, config.n_train, config.n_test, config.root, os.environ.get(data.ENV_VAR, "")


def _data_of(config: RefiningRun) -> tuple:
    return _experiment_data(*_data_args(config))


@functools.lru_cache(maxsize=4)
def _fingerprint(*args) -> str:
    """The content hash of one experiment's images and labels, computed once (not per seed)."""
    train, test, _ = _experiment_data(*args)
    return experiments.fingerprint(train.images, train.labels, test.images, test.labels)


def refining_key(config: RefiningRun) -> str:
    """The cache key of a run: its whole config, a content hash of the images and labels it
    loads (another ``$QROBUST_DATA`` gives another key) and the code version."""
    return experiments.config_key(config, _fingerprint(*_data_args(config)))


def refining_run(config: RefiningRun, progress: bool = False) -> dict:
    """One seed: fit the VQC, train the CNN on each label type, score every test set.

    10% of the training images (stratified, seeded) are held out to fit the temperature for
    temperature scaling. Returns ``{"runs": [{"seed", "method", "kind", "severity",
    "accuracy", "ece", "nll"}, ...]}``.
    """
    train, test, tests = _data_of(config)
    seed, n_classes = config.seed, len(train.class_names)
    idx_fit, idx_val = train_test_split(np.arange(len(train)), test_size=0.1,
                                        stratify=train.labels.numpy(), random_state=seed)
    x, y = train.images[idx_fit], train.labels[idx_fit]
    refiner = fit_refiner(x, y, n_classes, epochs=config.vqc_epochs, seed=seed, progress=progress)
    targets = {"one-hot": y, "label smoothing": smooth_labels(y, n_classes, config.smoothing),
               "quantum-refined": refine_labels(refiner.class_probabilities(x).double(), y,
                                                config.temperature, config.mix)}
    models = {}
    for method, target in targets.items():
        models[method] = SmallCNN(n_classes, seed=seed)
        train_classifier(models[method], x, target, epochs=config.epochs, seed=seed,
                         progress=progress, desc=f"CNN, {method}")
    t_star = calibration.fit_temperature(predict_logits(models["one-hot"], train.images[idx_val]),
                                         train.labels[idx_val])
    runs = []
    for (kind, severity), images in tests.items():
        logits = {m: predict_logits(model, images) for m, model in models.items()}
        logits["temperature scaling"] = logits["one-hot"] / t_star
        for method, lg in logits.items():
            probs = torch.softmax(lg.double(), dim=1)
            runs.append({"seed": seed, "method": method, "kind": kind, "severity": severity,
                         "accuracy": metrics.accuracy(test.labels, probs),
                         "ece": metrics.expected_calibration_error(test.labels, probs),
                         "nll": metrics.nll(test.labels, probs)})
    return {"runs": runs}


def robustness_experiment(dataset: str = "mnist", n_train: int = 2000, n_test: int = 1000,
                          seeds=(0, 1, 2), epochs: int = 8, vqc_epochs: int = 8,
                          temperature: float = 1.0, mix: float = 0.5, smoothing: float = 0.1,
                          root=None, progress: bool = True, grid_options: dict | None = None) -> dict:
    """Train the CNN with each label type for each seed; evaluate clean and corrupted.

    One :class:`RefiningRun` per seed, run by :func:`~qrobust_lite.experiments.run_grid`
    (``grid_options``: ``cache``, ``executor``, ``n_jobs``, ``client``, ``threads``; by default
    one seed at a time, on this process's torch threads, each with its own progress bars).
    Returns ``{"config": ..., "runs": [{"seed", "method", "kind", "severity", "accuracy",
    "ece", "nll"}, ...]}``.
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    validation.folder(root, "root")
    config = {"dataset": dataset, "n_train": n_train, "n_test": n_test, "seeds": seeds,
              "epochs": epochs, "vqc_epochs": vqc_epochs, "temperature": temperature, "mix": mix,
              "smoothing": smoothing}
    configs = [RefiningRun(dataset, seed, n_train, n_test, epochs, vqc_epochs, temperature, mix,
                           smoothing, None if root is None else str(root)) for seed in seeds]
    if progress:                                      # say where the data comes from
        train, test, _ = _data_of(configs[0])
        print(data.notice(dataset, "train", train), data.notice(dataset, "test", test), sep="\n")
    grid_options = {"n_jobs": 1, **(grid_options or {})}
    inner = progress and grid_options["n_jobs"] == 1 and grid_options.get("executor", "local") == "local"
    results = experiments.run_grid(configs, functools.partial(refining_run, progress=inner), key=refining_key,
                                   progress=progress, desc=f"{dataset}: seeds", **grid_options)
    return {"config": config, "runs": [row for result in results for row in result["runs"]]}


def summarise(results: dict, metric: str = "accuracy") -> dict:
    """Mean and standard deviation over seeds: ``{method: {kind: {severity: (mean, std)}}}``.

    The clean result (severity 0) is listed under every corruption kind.
    """
    table: dict = {}
    for method in METHODS:
        rows = [r for r in results["runs"] if r["method"] == method]
        clean = [r[metric] for r in rows if r["kind"] == "clean"]
        table[method] = {}
        for kind in corruptions.KINDS:
            table[method][kind] = {0: (float(np.mean(clean)), float(np.std(clean, ddof=1)))}
            for severity in corruptions.SEVERITIES[1:]:
                values = [r[metric] for r in rows if r["kind"] == kind and r["severity"] == severity]
                table[method][kind][severity] = (float(np.mean(values)), float(np.std(values, ddof=1)))
    return table


def best_relative_gain(results: dict, method: str, baseline: str = "one-hot") -> tuple[float, str, int]:
    """The largest (acc_method - acc_baseline) / acc_baseline over corrupted sets (mean over seeds),
    with the corruption kind and severity where it occurs."""
    table = summarise(results)
    return max((metrics.relative_change(table[method][k][s][0], table[baseline][k][s][0]), k, s)
               for k in corruptions.KINDS for s in corruptions.SEVERITIES[1:])


def plot_accuracy_vs_severity(results: dict, axes=None, metric: str = "accuracy"):
    """One panel per corruption kind: mean +- std over seeds against severity, per method."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(corruptions.KINDS), figsize=(11, 3), sharey=True)
    table = summarise(results, metric)
    for ax, kind in zip(axes, corruptions.KINDS):
        for method in METHODS:
            sev = list(corruptions.SEVERITIES)
            mean = np.array([table[method][kind][s][0] for s in sev])
            std = np.array([table[method][kind][s][1] for s in sev])
            ax.errorbar(sev, mean, yerr=std, marker="o", ms=3, capsize=2, label=method)
        ax.set(title=kind.replace("_", " "), xlabel="severity")
    axes[0].set_ylabel(metric)
    axes[-1].legend(fontsize=7)
    return axes
