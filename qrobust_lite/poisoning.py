"""Label-flip poisoning of classical and quantum networks (book: Part III, *Label-flip
poisoning, classical vs quantum*; paper: Chen and Zhang 2025).

1. :func:`flip_labels` flips exactly a share ``alpha`` of the labels of every class;
   :func:`randomise_features` is the second poison (inputs replaced by random unit
   vectors).
2. :func:`train_binary` trains a :class:`~qrobust_lite.networks.QNN` or
   :class:`~qrobust_lite.networks.MLP` with binary cross-entropy and records accuracy on the
   poisoned labels, memorisation (the share of flipped samples predicted with their *flipped*
   label) and validation accuracy.
3. :func:`chapter_grid` lists the runs (dataset x model x alpha x seed); the chapter runs them
   with :func:`~qrobust_lite.experiments.run_grid`, in parallel and cached under
   :func:`poisoning_key` (the whole configuration, the data loaded and the code version).
4. :func:`critical_alpha` locates the steepest drop of validation accuracy against alpha.

Scaled down from the paper to run on a laptop CPU: 8 qubits instead of 10 (MNIST pooled to
14 x 14), fewer epochs and seeds at the default scale; ``scales.settings("poisoning", "full")``
is the paper's setup.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split

from . import data, experiments, metrics, scales, spin_chain, validation
from .networks import MLP, QNN
from .training import fit
from .validation import (
    COUNT,
    FEATURES,
    LABELS,
    MODEL,
    N_CLASSES,
    POSITIVE,
    SEED,
    SHARE,
    Anything,
    Array,
    Folder,
    Instance,
    Int,
    Optional,
    Options,
    Real,
    Sequence_,
    validate_params,
)

#: "spin chain" is the course's design; "spin chain (authors)" the authors' (their grid and split,
#: the MLP reading [Re psi | Im psi] in one of :data:`~qrobust_lite.spin_chain.REPRESENTATIONS`).
DATASETS = ("mnist", "spin chain", "spin chain (authors)")
AUTHORS = "spin chain (authors)"
#: The chapter's sweep, and a grid's default.
COURSE_DATASETS = ("mnist", "spin chain")
MODELS = ("QNN", "MLP")
POISONS = ("label flip", "feature randomisation")
#: What :func:`run` measures, in [0, 1].
METRICS = ("train_accuracy", "memorised", "val_accuracy")


def _balanced_choice(labels: torch.Tensor, alpha: float, seed: int) -> torch.Tensor:
    """A boolean mask choosing round(alpha * n_c) samples of every class c, at random."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.zeros(len(labels), dtype=torch.bool)
    for c in labels.unique():
        idx = torch.nonzero(labels == c).flatten()
        k = round(alpha * len(idx))
        mask[idx[torch.randperm(len(idx), generator=gen)[:k]]] = True
    return mask


@validate_params(labels=LABELS, alpha=SHARE, n_classes=N_CLASSES, seed=SEED)
def flip_labels(
    labels: torch.Tensor, alpha: float, n_classes: int = 2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip round(alpha * n_c) labels of every class c: (poisoned labels (N,), flipped mask (N,)).

    Binary labels flip to the other class; with K > 2 classes a flipped label moves to one of
    the K - 1 others, uniformly. ``labels`` is not changed.

    >>> y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    >>> poisoned, flipped = flip_labels(y, 0.5)
    >>> int(flipped.sum()), int(flipped[:4].sum()), bool((poisoned[flipped] != y[flipped]).all())
    (4, 2, True)
    """
    validation.below(labels, n_classes)
    flipped = _balanced_choice(labels, alpha, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    shift = torch.randint(1, n_classes, (len(labels),), generator=gen)
    poisoned = torch.where(flipped, (labels + shift) % n_classes, labels)
    return poisoned, flipped


@validate_params(features=Array("features", ndim=2), labels=LABELS, alpha=SHARE, seed=SEED)
def randomise_features(
    features: torch.Tensor, labels: torch.Tensor, alpha: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace round(alpha * n_c) inputs of every class c by Gaussian vectors of unit L2 norm.

    Returns (new features (N, F), replaced mask (N,)); the labels stay, so the replaced
    samples carry labels that nothing in their input supports.
    """
    validation.same_length("features", features, "labels", labels)
    replaced = _balanced_choice(labels, alpha, seed)
    gen = torch.Generator().manual_seed(seed + 2)
    noise = torch.randn(features.shape, generator=gen, dtype=features.dtype)
    noise = noise / noise.norm(dim=1, keepdim=True)
    return torch.where(replaced[:, None], noise, features), replaced


@validate_params(n_train=COUNT, n_val=COUNT, pool=Options(1, 2, 4, 7, 14, 28), seed=SEED, data_root=Optional(Folder()))
def mnist_pair(
    n_train: int = 500, n_val: int = 500, pool: int = 2, seed: int = 0, data_root: str | None = None
) -> dict[str, torch.Tensor]:
    """MNIST 1 (label 0) vs 9 (label 1): pooled pixels, L2-normalised, as float64 features.

    ``pool`` 2 gives 196 features (8 qubits), 1 the paper's 784 (10 qubits). Training and
    validation images come from the training split (stratified, disjoint) when it holds
    enough, as the bundled subset does for the default sizes.
    """
    ds = data.load(
        "mnist", "train", n_samples=n_train + n_val, classes=[1, 9], seed=seed, data_root=data_root, verbose=False
    )
    x = F.avg_pool2d(ds.images, pool).flatten(1).double() if pool > 1 else ds.images.flatten(1).double()
    x = x / x.norm(dim=1, keepdim=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, ds.labels, train_size=n_train, stratify=ds.labels, random_state=seed)
    return {"x_train": x_tr, "y_train": y_tr, "x_val": x_va, "y_val": y_va}


@validate_params(n_train=COUNT, n_val=COUNT, n_qubits=Int(2, 12), seed=SEED)
def spin_pair(n_train: int = 500, n_val: int = 500, n_qubits: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    """XXZ ground states in the two phases (:mod:`~qrobust_lite.spin_chain`), as features."""
    states, labels, _ = spin_chain.phase_dataset(n_qubits, n_train + n_val, seed=seed)
    return {
        "x_train": states[:n_train],
        "y_train": labels[:n_train],
        "x_val": states[n_train:],
        "y_val": labels[n_train:],
    }


@dataclass(frozen=True)
class PoisoningRun:
    """Everything that determines one poisoning run (with the data it loads: :func:`poisoning_key`)."""

    dataset: str = "mnist"
    model: str = "QNN"
    poison: str = "label flip"
    alpha: float = 0.0
    seed: int = 0
    epochs: int = 40
    lr: float = 0.03
    n_train: int = 500
    n_val: int = 500
    pool: int = 2
    spin_qubits: int = 8
    depth: int = 6
    batch_size: int = 256
    data_root: str | None = None  # None: $QROBUST_DATA, the cache, else the bundled subset
    representation: str = "real"  # what the MLP reads of a state (the authors' data only)

    def __post_init__(self) -> None:
        validation.choice(self.dataset, "dataset", DATASETS)
        validation.choice(self.model, "model", MODELS)
        validation.choice(self.poison, "poison", POISONS)
        SHARE.check(self.alpha, "alpha")
        validation.seed(self.seed)
        for arg in ("epochs", "n_train", "n_val", "pool", "spin_qubits", "depth", "batch_size"):
            validation.positive_int(getattr(self, arg), arg)
        validation.positive(self.lr, "lr")
        validation.folder(self.data_root, "data_root")
        validation.choice(self.representation, "representation", spin_chain.REPRESENTATIONS)
        if self.representation != "real" and (self.dataset != AUTHORS or self.model != "MLP"):
            raise ValueError(
                f"representation {self.representation!r} is for the MLP on {AUTHORS!r} only (the "
                f"QNN is blind to a state's global phase); got {self.model} on {self.dataset!r}"
            )
        if self.dataset == AUTHORS and (self.n_train, self.n_val) != (82, 84):
            raise ValueError(
                f"{AUTHORS!r} has the authors' 82 training and 84 validation states; got "
                f"n_train={self.n_train}, n_val={self.n_val}"
            )


CONFIG = Instance(PoisoningRun, "a PoisoningRun")
PAIR = Instance(dict, "a data pair as load_pair gives it: x_train, y_train, x_val, y_val")
RESULTS = Sequence_(Instance(dict, "a run's result (poisoning.run)"), min_len=0)


def _load(dataset: str, n_train: int, n_val: int, pool: int, spin_qubits: int, data_root: str | None) -> dict:
    if dataset == "mnist":
        return mnist_pair(n_train, n_val, pool, seed=0, data_root=data_root)
    if dataset == AUTHORS:
        return {k: v for k, v in spin_chain.authors_pair(spin_qubits).items() if k[0] in "xy"}
    return spin_pair(n_train, n_val, spin_qubits, seed=0)


#: The clean data of a :class:`PoisoningRun`: the runs of a sweep share one copy and one fingerprint.
RUN_DATA = experiments.RunData(
    _load,
    ("dataset", "n_train", "n_val", "pool", "spin_qubits", "data_root"),
    lambda pair: [pair[k] for k in sorted(pair)],
)


@validate_params(config=CONFIG)
def load_pair(config: PoisoningRun) -> dict[str, torch.Tensor]:
    """The clean training and validation data of ``config.dataset`` (loaded once per process
    and data source: the runs of a sweep share it, and nothing changes it in place)."""
    return RUN_DATA.of(config)


@validate_params(config=CONFIG)
def poisoning_key(config: PoisoningRun) -> str:
    """The cache key of a run: its whole config, a content hash of the data it loads (so a
    different ``$QROBUST_DATA`` gives a different key) and the code version."""
    return RUN_DATA.key(config)


@validate_params(config=CONFIG, pair=PAIR)
def model_inputs(config: PoisoningRun, pair: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The clean data as ``config``'s model reads it: on the authors' data the MLP reads
    :func:`~qrobust_lite.spin_chain.represent` of the states (a random phase seeded by the run's
    seed), the QNN the states themselves; elsewhere the data as loaded."""
    if config.dataset != AUTHORS or config.model == "QNN":
        return pair
    x = spin_chain.represent(torch.cat([pair["x_train"], pair["x_val"]]), config.representation, config.seed)
    n = len(pair["x_train"])
    return {**pair, "x_train": x[:n], "x_val": x[n:]}


@validate_params(config=CONFIG, n_features=COUNT)
def make_model(config: PoisoningRun, n_features: int) -> torch.nn.Module:
    """The QNN (fewest qubits that hold ``n_features`` amplitudes) or the MLP, seeded."""
    if config.model == "QNN":
        return QNN(max(2, math.ceil(math.log2(n_features))), config.depth, seed=config.seed)
    return MLP(n_features, seed=config.seed)


@torch.no_grad()
@validate_params(model=MODEL, x=FEATURES)
def predict(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """P(y=1) (B,) of a binary model, without gradients; score it with
    :func:`~qrobust_lite.metrics.accuracy` (thresholded at 0.5)."""
    return model(x)


@validate_params(model=MODEL, x=FEATURES, y=LABELS, epochs=COUNT, lr=POSITIVE, batch_size=COUNT, seed=SEED)
def train_binary(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    lr: float = 5e-3,
    batch_size: int = 64,
    seed: int = 0,
) -> list[float]:
    """:func:`~qrobust_lite.training.fit` on binary cross-entropy of P(y=1); returns each
    epoch's mean loss."""
    validation.non_empty(x, "x")
    validation.below(y, 2, "y")
    validation.same_length("x", x, "y", y)
    return fit(
        model,
        x,
        y.double(),
        F.binary_cross_entropy,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        generator=torch.Generator().manual_seed(seed),
        progress=False,
    )


@validate_params(config=CONFIG, pair=PAIR)
def poisoned_set(
    config: PoisoningRun, pair: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The poisoned training set of ``config``: (features, labels, poisoned mask)."""
    x, y = pair["x_train"], pair["y_train"]
    if config.poison == "label flip":
        y_bad, mask = flip_labels(y, config.alpha, 2, seed=config.seed)
        return x, y_bad, mask
    x_bad, mask = randomise_features(x, y, config.alpha, seed=config.seed)
    return x_bad, y, mask


class PoisonedModel(NamedTuple):
    """A model trained on a poisoned training set, with that set and the clean data."""

    model: torch.nn.Module
    x: torch.Tensor  # training inputs (some randomised, for feature randomisation)
    labels: torch.Tensor  # training labels (some flipped, for label flips)
    poisoned: torch.Tensor  # (N,) bool: which training samples were poisoned
    pair: dict  # the clean data of :func:`load_pair`
    seconds: float  # training time


@validate_params(config=CONFIG)
def train_poisoned(config: PoisoningRun) -> PoisonedModel:
    """Corrupt the training set of ``config`` and train its model on it."""
    pair = model_inputs(config, load_pair(config))
    x, y, mask = poisoned_set(config, pair)
    model = make_model(config, x.shape[1])
    start = time.perf_counter()
    train_binary(model, x, y, config.epochs, config.lr, config.batch_size, seed=config.seed)
    return PoisonedModel(model, x, y, mask, pair, time.perf_counter() - start)


@validate_params(config=CONFIG)
def run(config: PoisoningRun) -> dict:
    """Train one model on a poisoned training set; returns the config, metrics and seconds.

    ``train_accuracy``: on the (poisoned) training labels; ``memorised``: among poisoned
    samples, the share predicted with their training label (for label flips: the flipped one);
    ``val_accuracy``: on clean validation data.
    """
    model, x, y, mask, pair, seconds = train_poisoned(config)
    p_train = predict(model, x)
    return {
        **asdict(config),
        "train_accuracy": metrics.accuracy(y, p_train),
        "memorised": metrics.accuracy(y[mask], p_train[mask]),
        "val_accuracy": metrics.accuracy(pair["y_val"], predict(model, pair["x_val"])),
        "seconds": seconds,
    }


@validate_params(
    scale=scales.SCALE,
    datasets=Sequence_(Options(*DATASETS), distinct=True),
    models=Sequence_(Options(*MODELS), distinct=True),
    poisons=Sequence_(Options(*POISONS), distinct=True),
    alphas=Optional(Sequence_(SHARE, distinct=True)),
    data_root=experiments.DATA_ROOT,
    seeds=Optional(Sequence_(SEED, distinct=True)),
)
def grid(
    scale: str = "default",
    datasets=COURSE_DATASETS,
    models=MODELS,
    poisons=("label flip",),
    alphas=None,
    data_root: str | None = None,
    seeds=None,
) -> list[PoisoningRun]:
    """Every (dataset, model, poison, alpha, seed) of a scale, as run configs; on the authors'
    data with their schedules (the scale's ``"authors"`` settings) and one MLP per
    representation. ``alphas`` and ``seeds``: the scale's unless given.

    >>> len(grid("smoke", datasets=[AUTHORS]))    # (1 QNN + 3 MLPs) x 3 alphas x 2 seeds
    24
    """
    s = scales.settings("poisoning", scale)
    configs = []
    for d in datasets:
        own = {**s, **s["authors"], "n_train": 82, "n_val": 84} if d == AUTHORS else s
        for m in models:
            representations = spin_chain.REPRESENTATIONS if d == AUTHORS and m == "MLP" else ("real",)
            configs += [
                PoisoningRun(
                    dataset=d,
                    model=m,
                    poison=c,
                    alpha=a,
                    seed=seed,
                    n_train=own["n_train"],
                    n_val=own["n_val"],
                    batch_size=own["batch_size"],
                    pool=s["pool"],
                    spin_qubits=own["spin_qubits"],
                    data_root=data_root,
                    representation=r,
                    **own["schedules"][m],
                )
                for c in poisons
                for a in (s["alphas"] if alphas is None else alphas)
                for seed in (s["seeds"] if seeds is None else seeds)
                for r in representations
            ]
    return configs


@validate_params(
    scale=scales.SCALE,
    datasets=Sequence_(Options(*DATASETS), distinct=True),
    data_root=experiments.DATA_ROOT,
    alphas=Optional(Sequence_(SHARE, distinct=True)),
)
def chapter_grid(
    scale: str = "default", datasets=COURSE_DATASETS, data_root: str | None = None, alphas=None
) -> list[PoisoningRun]:
    """The poisoning chapter's sweep: label flips at every alpha of the scale on ``datasets``, and
    feature randomisation on MNIST (when chosen) at the scale's ``randomisation_alphas``; with
    ``alphas``, only those of them (each one of the scale's).

    >>> len(chapter_grid("smoke")), len(chapter_grid("smoke", datasets=["spin chain"]))
    (32, 12)
    """
    s = scales.settings("poisoning", scale)
    if alphas is not None and any(a not in s["alphas"] for a in alphas):
        raise ValueError(
            f"alphas must be a non-empty subset of the {scale} scale's {list(s['alphas'])}, got {list(alphas)!r}"
        )
    chosen = lambda values: [a for a in values if alphas is None or a in alphas]  # noqa: E731
    configs = grid(scale, datasets=datasets, alphas=chosen(s["alphas"]), data_root=data_root)
    if "mnist" in datasets:
        configs += grid(
            scale,
            datasets=["mnist"],
            poisons=["feature randomisation"],
            alphas=chosen(s["randomisation_alphas"]),
            data_root=data_root,
        )
    return configs


@validate_params(run=Instance(dict, "a run's result (poisoning.run)"))
def model_label(run: dict) -> str:
    """A run's model as curves and figures name it: ``"QNN"``, ``"MLP"``, or on the authors'
    data ``"MLP (representation)"``."""
    if run["dataset"] == AUTHORS and run["model"] == "MLP":
        return f"MLP ({run.get('representation', 'real')})"
    return run["model"]


@validate_params(results=RESULTS, metric=Options(*METRICS))
def curves(results: list[dict], metric: str = "val_accuracy") -> dict:
    """``{(dataset, model, poison): (alphas (A,), values (S, A))}``, seeds as rows, the model
    named by :func:`model_label`; ``metric`` one of :data:`METRICS`."""
    out = {}
    for key in sorted({(r["dataset"], model_label(r), r["poison"]) for r in results}):
        rows = [r for r in results if (r["dataset"], model_label(r), r["poison"]) == key]
        alphas = sorted({r["alpha"] for r in rows})
        seeds = sorted({r["seed"] for r in rows})
        table = {(r["seed"], r["alpha"]): r[metric] for r in rows}
        missing = [(s, a) for s in seeds for a in alphas if (s, a) not in table]
        if missing or len(table) != len(rows):
            raise ValueError(
                f"results of {key} must hold each (seed, alpha) once, for every seed and alpha; "
                f"missing {missing[:5]}, {len(rows) - len(table)} repeated"
            )
        out[key] = (np.array(alphas), np.array([[table[(s, a)] for a in alphas] for s in seeds]))
    return out


@validate_params(
    alphas=Sequence_(Real(), min_len=2),
    values=Anything("a (seeds, alphas) table of numbers: its shape and values are checked below"),
    n_boot=Int(1, 100_000),
    seed=SEED,
)
def critical_alpha(alphas, values, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Where the mean curve drops most steeply: (alpha_c, its bootstrap standard deviation).

    ``values`` (S, A): one row per seed. alpha_c is the midpoint of the consecutive pair of
    alphas with the largest fall of the seed-mean; the spread comes from resampling seeds.
    A curve that never falls has no critical alpha: (NaN, NaN).

    >>> location, spread = critical_alpha([0.0, 0.1, 0.2, 0.3], [[0.9, 0.9, 0.5, 0.4], [0.9, 0.8, 0.5, 0.5]])
    >>> round(location, 6), round(spread, 6)
    (0.15, 0.0)
    """
    alphas, values = np.asarray(alphas, dtype=float), np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(alphas) or len(alphas) < 2 or not len(values):
        raise ValueError(
            f"values must be (seeds, alphas) with at least one seed and two alphas, "
            f"got shape {values.shape} for {len(alphas)} alphas"
        )
    if not np.isfinite(alphas).all() or not (np.diff(alphas) > 0).all():
        raise ValueError(f"alphas must be finite and strictly increasing, got {alphas.tolist()}")
    if not np.isfinite(values).all():
        raise ValueError(f"values must be finite, got {int((~np.isfinite(values)).sum())} NaN or infinite")
    if not (np.diff(values.mean(axis=0)) < 0).any():
        return math.nan, math.nan

    def locate(v: np.ndarray) -> float:
        drops = -np.diff(v.mean(axis=0))
        k = int(np.argmax(drops))
        return float((alphas[k] + alphas[k + 1]) / 2)

    rng = np.random.default_rng(seed)
    boots = [locate(values[rng.integers(0, len(values), len(values))]) for _ in range(n_boot)]
    return locate(values), float(np.std(boots))


@validate_params(results=RESULTS, metrics=Sequence_(Options(*METRICS)), axes=Anything("Matplotlib Axes, or None"))
def plot_curves(results: list[dict], metrics=("train_accuracy", "val_accuracy"), axes=None):
    """Metric against alpha, mean +- std over seeds, one panel per (dataset, poison). Without
    ``axes``, two panels a row, the legend in a free cell, else below the panels (one panel: below
    its axes, so that a caller's ``axes[0].legend(...)`` replaces it)."""
    import matplotlib.pyplot as plt

    panels = sorted({(r["dataset"], r["poison"]) for r in results})
    spare, own = None, axes is None
    if axes is None:
        cols = min(len(panels), 2)
        rows = -(-len(panels) // cols)
        size = (3.5 * cols, 3.0 * rows) if len(panels) > 1 else (5.0, 4.4)  # one panel: room for its legend
        _, grid = plt.subplots(rows, cols, figsize=size, squeeze=False)
        axes, free = grid.flat[: len(panels)], grid.flat[len(panels) :]
        for ax in free:
            ax.axis("off")
        spare = free[0] if len(free) else None
        for ax in grid[:, 0]:
            ax.set_ylabel("accuracy")
    styles = {"train_accuracy": "--", "val_accuracy": "-", "memorised": ":"}
    colours: dict[str, str] = {}
    for ax, (dataset, poison) in zip(axes, panels):
        for (d, model, c), (alphas, values) in curves(results).items():
            if (d, c) != (dataset, poison):
                continue
            for metric in metrics:
                _, v = curves(
                    [r for r in results if (r["dataset"], model_label(r), r["poison"]) == (d, model, c)], metric
                )[(d, model, c)]
                keep = ~np.isnan(v).all(axis=0)  # memorisation is undefined at alpha = 0
                mean, std = experiments.mean_std(v[:, keep], axis=0, ddof=0, skip_nan=True)
                ax.errorbar(
                    alphas[keep],
                    mean,
                    yerr=std,
                    capsize=2,
                    linestyle=styles.get(metric, "-"),
                    marker="o",
                    markersize=3,
                    color=colours.setdefault(model, f"C{len(colours)}"),
                    label=f"{model} {metric.replace('_', ' ')}",
                )
        ax.set(title=f"{dataset}: {poison}", xlabel="alpha", ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    handles, labels = axes[-1].get_legend_handles_labels()
    if spare is not None:
        spare.legend(handles, labels, fontsize=9, loc="center")
    elif own and len(axes) > 1:
        axes[0].figure.legend(
            handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=9, frameon=False
        )
    elif own:
        axes[-1].legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, 0.0), borderaxespad=4)
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
    alphas=Optional(Sequence_(SHARE)),
)
def report(
    scale: str = "default",
    datasets=COURSE_DATASETS,
    data_root: str | None = None,
    grid_options: dict | None = None,
    alphas=None,
) -> tuple[dict, dict]:
    """:func:`chapter_grid` at ``scale`` (label flips, and feature randomisation on MNIST) for
    the QNN and the MLP, shaped for a record (``qrobust-lite run poisoning``): ``({"summary":
    {"dataset / model / curve": {"critical_alpha", "bootstrap_std"}}, "runs"}, {"": figure})``.
    ``alphas``: a subset of the scale's (a long sweep's first pass; the rest reuses its cache)."""
    configs = chapter_grid(scale, datasets=datasets, data_root=data_root, alphas=alphas)
    runs = experiments.run_grid(configs, run, key=poisoning_key, **(grid_options or {}))
    summary = {}
    for (d, m, c), (levels, values) in curves(runs).items():
        location, spread = critical_alpha(levels, values) if len(levels) > 1 else (None, None)
        summary[f"{d} / {m} / {c}"] = {"critical_alpha": location, "bootstrap_std": spread}
    return {"summary": summary, "runs": runs}, {"": plot_curves(runs)[0].figure}
