"""Approximate unlearning of poisoned labels (book: Part III, *Quantum machine unlearning*;
paper: Chen and Zhang 2025).

A model trained on labels of which a share ``alpha`` were flipped is asked to forget the
flipped samples (the **forget set**) and keep the rest (the **retain set**). Four methods:

- ``"retrain"``: a fresh model trained on the retain set only, the reference;
- ``"fine-tune"``: keep training the poisoned model on the retain set;
- ``"gradient ascent"``: retain loss minus ``weight`` x the loss on the forget set;
- ``"SCRUB"`` {Kurmanji et al. 2023}: retain loss minus ``weight`` x the KL divergence from
  the poisoned model's outputs on the forget set (push away from what it said there).

Per epoch: accuracy on the retain set, on the forget set *with its flipped labels* (how much
of the poison is left: lower is better) and on clean validation data, and the seconds spent.
:func:`membership_inference` asks whether the forget set still looks like training data.

>>> import torch
>>> from qrobust_lite.networks import MLP
>>> model = MLP(4)
>>> sets = {"retain": (torch.rand(20, 4), torch.randint(2, (20,))),
...         "forget": (torch.rand(6, 4), torch.randint(2, (6,))),
...         "val": (torch.rand(10, 4), torch.randint(2, (10,)))}
>>> unlearned, history = unlearn("fine-tune", model, sets, epochs=2, lr=0.01)
>>> [h["epoch"] for h in history], sorted(history[0])
([0, 1, 2], ['epoch', 'forget', 'retain', 'seconds', 'val'])
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import experiments, metrics, poisoning, scales, validation
from .poisoning import PoisoningRun, predict
from .training import fit
from .validation import (
    COUNT,
    FEATURES,
    LABELS,
    MODEL,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    SHARE,
    TENSOR,
    TEXT,
    Bool,
    Instance,
    Optional,
    Options,
    Real,
    Sequence_,
    validate_params,
)

METHODS = ("retrain", "fine-tune", "gradient ascent", "SCRUB")
FORGET_WEIGHT = 0.2  # the paper's weight of the forget-set term


SETS = Instance(dict, "named sets {name: (x, y)}")
PAIR = Sequence_(TENSOR, min_len=2, max_len=2)  # (x, y)
LOSSES = Sequence_(Real(0), min_len=0)  # per-sample losses (N,), an array or a list
RESULTS = Instance(dict, "the dict unlearning_experiment returns")


@validate_params(p=FEATURES, q=FEATURES)
def bernoulli_kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Mean KL(p || q) between Bernoulli distributions with P(1) = p and q, (B,) -> scalar."""
    for arg, v in (("p", p), ("q", q)):
        if v.numel() and (v.min() < 0 or v.max() > 1):
            raise ValueError(f"{arg} must be probabilities in [0, 1], got [{v.min().item():.3g}, {v.max().item():.3g}]")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}")
    eps = 1e-7
    p, q = p.clamp(eps, 1 - eps), q.clamp(eps, 1 - eps)
    return (p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()).mean()


@validate_params(model=MODEL, sets=SETS)
def evaluate(model: torch.nn.Module, sets: dict) -> dict[str, float]:
    """Accuracy on every named set ``{name: (x, y)}``."""
    return {name: metrics.accuracy(y, predict(model, x)) for name, (x, y) in sets.items()}


@validate_params(
    method=Options(*METHODS),
    model=MODEL,
    sets=SETS,
    epochs=COUNT,
    lr=POSITIVE,
    batch_size=COUNT,
    weight=NON_NEGATIVE,
    seed=SEED,
    fresh_model=Optional(MODEL),
)
def unlearn(
    method: str,
    model: torch.nn.Module,
    sets: dict,
    epochs: int = 20,
    lr: float = 0.03,
    batch_size: int = 256,
    weight: float = FORGET_WEIGHT,
    seed: int = 0,
    fresh_model: torch.nn.Module | None = None,
) -> tuple[torch.nn.Module, list[dict]]:
    """Run one unlearning method: (the unlearned model, metrics before (epoch 0) and after
    every epoch).

    ``sets`` holds ``"retain"``, ``"forget"`` (with the labels the model was trained on) and
    ``"val"``, each ``(x, y)``. ``model`` is the poisoned model; it is copied, not changed.
    ``"retrain"`` trains ``fresh_model`` (an untrained model of the same kind) instead.
    """
    if method == "retrain" and fresh_model is None:
        raise ValueError("fresh_model is required for method 'retrain' (an untrained model)")
    missing = {"retain", "forget", "val"} - set(sets)
    if missing:
        raise ValueError(f"sets must hold 'retain', 'forget' and 'val'; missing {sorted(missing)}")
    original = model
    model = copy.deepcopy(model if fresh_model is None or method != "retrain" else fresh_model)
    (x_r, y_r), (x_f, y_f) = sets["retain"], sets["forget"]
    with torch.no_grad():
        original_forget = original(x_f)
    generator = torch.Generator().manual_seed(seed)

    def forget_term(model: torch.nn.Module, batch_size: int) -> torch.Tensor:
        """-weight x (the loss on a forget batch in proportion to the retain batch)."""
        k = max(1, round(batch_size * len(x_f) / len(x_r)))
        f_idx = torch.randint(len(x_f), (k,), generator=generator)
        out = model(x_f[f_idx])
        if method == "gradient ascent":
            return -weight * F.binary_cross_entropy(out, y_f[f_idx].double())
        return -weight * bernoulli_kl(original_forget[f_idx], out)

    history = [{"epoch": 0, "seconds": 0.0, **evaluate(model, sets)}]

    def record(epoch: int, seconds: float) -> None:
        history.append({"epoch": epoch, "seconds": history[-1]["seconds"] + seconds, **evaluate(model, sets)})

    fit(
        model,
        x_r,
        y_r.double(),
        F.binary_cross_entropy,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        generator=generator,
        penalty=forget_term if method in ("gradient ascent", "SCRUB") and len(x_f) else None,
        after_epoch=record,
        progress=False,
    )
    return model, history


@validate_params(
    history=Sequence_(Instance(dict, "a row of a history from unlearn"), min_len=0), target=SHARE, key=TEXT
)
def epochs_to_target(history: list[dict], target: float, key: str = "val") -> tuple[int, float] | None:
    """The first (epoch, seconds) at which ``history[key] >= target``; None if never."""
    for row in history:
        if row[key] >= target:
            return row["epoch"], row["seconds"]
    return None


@validate_params(model=MODEL, x=FEATURES, y=LABELS)
def per_sample_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Binary cross-entropy of each sample, (N,)."""
    validation.same_length("x", x, "y", validation.below(y, 2, "y"))
    with torch.no_grad():
        return F.binary_cross_entropy(model(x), y.double(), reduction="none").numpy()


@validate_params(model=MODEL, members=PAIR, queries=PAIR)
def membership_inference(model: torch.nn.Module, members: tuple, queries: tuple) -> float:
    """Share of ``queries`` that a loss-threshold attacker {Yeom et al. 2018} calls members.

    The attacker calls a sample a training member when the model's loss on it is at most the
    mean loss on ``members`` (the retain set). Run on the forget set with its flipped labels and
    compare with the same rate on held-out samples with flipped labels: equal rates mean the
    poison no longer looks like something the model was trained on.
    """
    return membership_rate(per_sample_loss(model, *members), per_sample_loss(model, *queries))


@validate_params(member_losses=LOSSES, query_losses=LOSSES)
def membership_rate(member_losses: np.ndarray, query_losses: np.ndarray) -> float:
    """Share of ``query_losses`` at or below the mean of ``member_losses``, in [0, 1]; NaN for
    no queries. The threshold needs at least one member."""
    if not len(member_losses):
        raise ValueError("member_losses must hold at least one loss: the threshold is their mean")
    threshold = np.mean(member_losses)
    return float((np.asarray(query_losses) <= threshold).mean()) if len(query_losses) else math.nan


@validate_params(config=poisoning.CONFIG)
def poisoned_sets(config: PoisoningRun) -> tuple[torch.nn.Module, dict, float, torch.nn.Module]:
    """Train the poisoned model of ``config``: (model, sets, seconds, an untrained twin).

    ``sets``: ``"retain"`` (unflipped training samples), ``"forget"`` (flipped ones, with their
    flipped labels), ``"val"``, and ``"val (flipped)"``: validation samples with flipped labels,
    the membership attack's reference for samples the model never saw.
    """
    model, x, y_bad, flipped, pair, seconds = poisoning.train_poisoned(config)
    twin = poisoning.make_model(PoisoningRun(**{**config.__dict__, "seed": config.seed + 1000}), x.shape[1])
    sets = {
        "retain": (x[~flipped], y_bad[~flipped]),
        "forget": (x[flipped], y_bad[flipped]),
        "val": (pair["x_val"], pair["y_val"]),
        "val (flipped)": (pair["x_val"], 1 - pair["y_val"]),
    }
    return model, sets, seconds, twin


@dataclass(frozen=True)
class UnlearningRun:
    """One poisoned model of :func:`unlearning_experiment` and what is done to it: every
    method in ``methods`` for ``epochs`` (with the data it loads: :func:`unlearning_key`)."""

    poisoned: PoisoningRun
    methods: tuple[str, ...] = METHODS
    epochs: int = 20
    forget_weight: float = FORGET_WEIGHT


@validate_params(config=Instance(UnlearningRun, "an UnlearningRun"))
def unlearning_key(config: UnlearningRun) -> str:
    """The cache key of a run: its whole config, a content hash of the data it loads and the
    code version (as :func:`~qrobust_lite.poisoning.poisoning_key`)."""
    return experiments.config_key(config, poisoning.RUN_DATA.fingerprint(config.poisoned))


@validate_params(config=Instance(UnlearningRun, "an UnlearningRun"))
def unlearning_run(config: UnlearningRun) -> dict:
    """Train the poisoned model, then unlearn with each method: ``{"runs": [...]}``, one per
    method, as :func:`unlearning_experiment` describes."""
    poisoned = config.poisoned
    model, sets, seconds, twin = poisoned_sets(poisoned)
    eval_sets = {k: sets[k] for k in ("retain", "forget", "val")}
    mia_before = membership_inference(model, sets["retain"], sets["forget"])
    runs = []
    for method in config.methods:
        unlearned, history = unlearn(
            method,
            model,
            eval_sets,
            epochs=config.epochs,
            lr=poisoned.lr,
            batch_size=poisoned.batch_size,
            weight=config.forget_weight,
            seed=poisoned.seed,
            fresh_model=twin,
        )
        runs.append(
            {
                "dataset": poisoned.dataset,
                "model": poisoned.model,
                "seed": poisoned.seed,
                "representation": poisoned.representation,
                "method": method,
                "history": history,
                "poison_seconds": seconds,
                "mia_before": mia_before,
                "mia_after": membership_inference(unlearned, sets["retain"], sets["forget"]),
                "mia_reference": membership_inference(unlearned, sets["retain"], sets["val (flipped)"]),
            }
        )
    return {"runs": runs}


@validate_params(
    scale=scales.SCALE,
    models=Sequence_(Options(*poisoning.MODELS), distinct=True),
    methods=Sequence_(Options(*METHODS), distinct=True),
    datasets=Optional(Sequence_(Options(*poisoning.DATASETS), distinct=True)),
    epochs=Optional(COUNT),
    seeds=Optional(Sequence_(SEED, distinct=True)),
    data_root=experiments.DATA_ROOT,
    progress=Bool(),
    grid_options=experiments.GRID_OPTIONS,
)
def unlearning_experiment(
    scale: str = "default",
    models=poisoning.MODELS,
    methods=METHODS,
    datasets=None,
    epochs: int | None = None,
    seeds=None,
    data_root: str | None = None,
    progress: bool = True,
    grid_options: dict | None = None,
) -> dict:
    """Poison at alpha (0.3), then unlearn with every method: per-epoch histories and MIA.

    One :class:`UnlearningRun` per (dataset, model, seed), run by
    :func:`~qrobust_lite.experiments.run_grid` (``grid_options``: ``cache``, ``executor``,
    ``n_jobs``, ``client``, ``threads``; by default one run at a time on this process's torch
    threads). Returns ``{"config": ..., "runs": [...]}``; one run per (dataset, model, seed,
    method) with ``history`` (from :func:`unlearn`), ``mia_before`` and ``mia_after``
    (membership rate of the forget set), ``mia_reference`` (the same for held-out samples with
    flipped labels, after unlearning) and ``poison_seconds`` (training the poisoned model).
    """
    settings = scales.settings("unlearning", scale)
    datasets = settings["datasets"] if datasets is None else datasets
    seeds = settings["seeds"] if seeds is None else seeds
    if set(seeds) - set(settings["seeds"]):
        raise ValueError(
            f"seeds must be a non-empty selection of the {scale} scale's seeds "
            f"{list(settings['seeds'])}, got {list(seeds)!r}"
        )
    epochs = settings["epochs"] if epochs is None else epochs
    poisoned = poisoning.grid(
        scale,
        datasets=datasets,
        models=models,
        alphas=[settings["alpha"]],
        data_root=data_root,
        seeds=[seed for seed in settings["seeds"] if seed in seeds],  # in the scale's order
    )
    configs = [UnlearningRun(c, tuple(methods), epochs) for c in poisoned]
    results = experiments.run_grid(
        configs,
        unlearning_run,
        key=unlearning_key,
        progress=progress,
        desc="poisoned models",
        **{"n_jobs": 1, **(grid_options or {})},
    )
    return {
        "config": {
            "scale": scale,
            "alpha": settings["alpha"],
            "epochs": epochs,
            "seeds": list(seeds),
            "datasets": list(datasets),
            "models": list(models),
            "methods": list(methods),
            "forget_weight": FORGET_WEIGHT,
        },
        "runs": [r for result in results for r in result["runs"]],
    }


@validate_params(results=RESULTS, dataset=TEXT, model=TEXT, method=Options(*METHODS), key=TEXT)
def mean_history(results: dict, dataset: str, model: str, method: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) over seeds of ``key`` per epoch for one (dataset, model, method); ``model`` as
    :func:`~qrobust_lite.poisoning.model_label` names it."""
    rows = [
        r["history"]
        for r in results["runs"]
        if (r["dataset"], poisoning.model_label(r), r["method"]) == (dataset, model, method)
    ]
    if not rows:
        raise ValueError(f"results hold no {method} run of {model!r} on {dataset!r}")
    values = np.array([[h[key] for h in history] for history in rows])
    return experiments.mean_std(values, axis=0, ddof=0)


@validate_params(results=RESULTS, dataset=TEXT, keys=Sequence_(Options("forget", "retain", "val")))
def plot_histories(results: dict, dataset: str = "mnist", keys=("forget", "retain", "val")):
    """Per-epoch curves: one row per model, one column per metric, a line per method; the legend
    below the panels."""
    import matplotlib.pyplot as plt

    labels = {poisoning.model_label(r) for r in results["runs"] if r["dataset"] == dataset}
    models = sorted(labels, key=lambda label: (label != "QNN", label))
    fig, axes = plt.subplots(
        len(models),
        len(keys),
        figsize=(min(7.0, 2.6 * len(keys)), 2.4 * len(models)),
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    for row, model in zip(axes, models):
        for ax, key in zip(row, keys):
            for i, method in enumerate(results["config"]["methods"]):
                mean, std = mean_history(results, dataset, model, method, key)
                epochs = np.arange(len(mean))
                ax.plot(epochs, mean, color=f"C{i}", label=method)
                ax.fill_between(epochs, mean - std, mean + std, color=f"C{i}", alpha=0.2)
            ax.set_title(f"{model}: {key} accuracy", fontsize=9)
            ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    fig.tight_layout()
    handles, names = axes[0, -1].get_legend_handles_labels()
    fig.legend(
        handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(names), fontsize=9, frameon=False
    )
    return axes


@validate_params(
    scale=scales.SCALE,
    datasets=Sequence_(Options(*poisoning.DATASETS), distinct=True),
    data_root=experiments.DATA_ROOT,
    grid_options=experiments.GRID_OPTIONS,
)
def report(
    scale: str = "default",
    datasets=poisoning.COURSE_DATASETS,
    data_root: str | None = None,
    grid_options: dict | None = None,
) -> tuple[dict, dict]:
    """:func:`unlearning_experiment` at ``scale``, shaped for a record (``qrobust-lite run
    unlearning``): ``({"results": ...}, {dataset: figure of its histories})``."""
    res = unlearning_experiment(scale, datasets=datasets, data_root=data_root, grid_options=grid_options)
    return {"results": res}, {d: plot_histories(res, d)[0, 0].figure for d in datasets}
