"""Training defences against adversarial attacks, and the experiment that compares them
(book: Part II, *Defending with quantum patches*; paper: Tran et al. 2026).

Every defence trains the same model the same way; they differ only in what half of each
training batch looks like (the other half stays clean):

- ``"none"``: nothing changed, the baseline;
- ``"gaussian noise"``: pixels plus N(0, sigma^2), clipped to [0, 1];
- ``"quantum patches"``: RQC pseudo-noise (:func:`~qrobust_lite.quantum_patches.quantum_patch`),
  from a circuit drawn per batch out of ``circuit_seeds``;
- ``"PGD training"``: PGD adversarial examples against the model as it is at that step
  {Madry et al. 2018}, the classical defence the paper compares its effect with.

:func:`defence_experiment` trains each defence with several seeds and scores clean accuracy
and attack success rate (ASR) under FGSM and PGD at several budgets, plus training time.

>>> x, y = torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 0, 1])
>>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2), torch.nn.Softmax(1))
>>> out = perturb_batch("gaussian noise", model, x, y, torch.Generator().manual_seed(0))
>>> out.shape, bool(torch.equal(out[2:], x[2:]))   # only the first half is changed
(torch.Size([4, 1, 4, 4]), True)
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from . import attacks, data, experiments, metrics, validation
from .quantum_classifier import HybridImageClassifier, QuantumImageClassifier
from .quantum_patches import quantum_patch
from .training import fit

DEFENCES = ("none", "gaussian noise", "quantum patches", "PGD training")
ATTACKS = ("FGSM", "PGD")
# Average pooling per dataset, so that every image becomes 8 qubits' worth of amplitudes.
POOL = {"cifar10": 4, "cinic10": 4, "mnist": 2, "fashion_mnist": 2}
# The paper's headline attack success rates: (undefended, with quantum patches).
PAPER_ASR = {"cifar10": (0.898, 0.6845), "cinic10": (0.9423, 0.7868)}
EPSILONS = (2 / 255, 4 / 255, 8 / 255)
#: The attacked models, each with its Adam learning rate. ``"quantum"`` is the
#: :class:`~qrobust_lite.quantum_classifier.QuantumImageClassifier` (96 angles, rate 0.05);
#: ``"hybrid"`` the :class:`~qrobust_lite.quantum_classifier.HybridImageClassifier` (rate 0.01,
#: a usual one for a CNN front end; 0.05 gave a similar clean accuracy on CIFAR-10, 0.265 against
#: 0.269 over seeds 0-2).
MODELS = {"quantum": 0.05, "hybrid": 0.01}


def perturb_batch(defence: str, model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  generator: torch.Generator, fraction: float = 0.5, sigma: float = 0.1,
                  strength: float = 0.5, circuit_seeds: tuple[int, ...] = (100, 101, 102, 103),
                  epsilon: float = 8 / 255, pgd_steps: int = 3, loss: str = "probs") -> torch.Tensor:
    """A training batch (B, C, H, W) in [0, 1] with its first ``fraction`` perturbed by ``defence``.

    ``sigma``: Gaussian standard deviation (pixel units); ``strength`` and ``circuit_seeds``:
    quantum patches; ``epsilon`` and ``pgd_steps``: PGD training (random start). Returns a new
    tensor; ``images`` is not changed.
    """
    validation.choice(defence, "defence", DEFENCES)
    validation.images(images, ndim=4)
    validation.same_length("images", images, "labels", validation.labels(labels))
    validation.share(fraction, "fraction")
    validation.positive(sigma, "sigma")
    validation.share(strength, "strength")
    if not circuit_seeds:
        raise ValueError("circuit_seeds must name at least one circuit seed")
    for s in circuit_seeds:
        validation.seed(s, "circuit_seeds")
    validation.non_negative(epsilon, "epsilon")
    validation.positive_int(pgd_steps, "pgd_steps")
    validation.choice(loss, "loss", attacks.LOSSES)
    out = images.clone()
    k = round(fraction * len(images))
    if defence == "none" or k == 0:
        return out
    part = images[:k]
    if defence == "gaussian noise":
        noise = torch.randn(part.shape, generator=generator, dtype=part.dtype)
        out[:k] = (part + sigma * noise).clamp(0.0, 1.0)
    elif defence == "quantum patches":
        pick = int(torch.randint(len(circuit_seeds), (1,), generator=generator))
        out[:k] = quantum_patch(part, seed=circuit_seeds[pick], strength=strength)
    else:
        start = int(torch.randint(2 ** 31 - 1, (1,), generator=generator))
        out[:k] = attacks.pgd(model, part, labels[:k], epsilon, steps=pgd_steps,
                              random_start=True, seed=start, loss=loss)
    return out


def train_with_defence(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                       defence: str = "none", epochs: int = 10, batch_size: int = 64,
                       lr: float = 0.05, seed: int = 0, loss: str = "probs", progress: bool = True,
                       **defence_options) -> list[float]:
    """:func:`~qrobust_lite.training.fit` with each batch passed through :func:`perturb_batch`
    (the loop's ``transform`` hook: PGD training needs the model as it is at each step);
    returns each epoch's mean loss.

    ``defence_options`` go to :func:`perturb_batch`. ``seed`` fixes the batch order and every
    random draw of the defence.
    """
    validation.non_empty(validation.images(images, ndim=4), "images")
    validation.same_length("images", images, "labels", validation.labels(labels))
    validation.choice(loss, "loss", attacks.LOSSES)
    validation.seed(seed)
    # check the defence and its options on an empty batch before any training time is spent
    perturb_batch(defence, model, images[:0], labels[:0], torch.Generator(), **defence_options)
    generator = torch.Generator().manual_seed(seed)

    def transform(model: torch.nn.Module, batch: torch.Tensor, batch_labels: torch.Tensor) -> torch.Tensor:
        return perturb_batch(defence, model, batch, batch_labels, generator, loss=loss, **defence_options)

    return fit(model, images, labels, lambda out, y: attacks.classification_loss(out, y, loss),
               epochs=epochs, batch_size=batch_size, lr=lr, generator=generator, transform=transform,
               progress=progress, desc=f"training ({defence})")


def evaluate_attacks(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                     epsilons=EPSILONS, pgd_steps: int = 10, loss: str = "probs") -> dict:
    """Clean accuracy, and ASR and robust accuracy per attack and budget (lists along ``epsilons``)."""
    validation.non_empty(validation.images(images, ndim=4), "images")
    validation.same_length("images", images, "labels", validation.labels(labels))
    validation.positive_int(pgd_steps, "pgd_steps")
    validation.choice(loss, "loss", attacks.LOSSES)
    with torch.no_grad():
        clean = model(images).argmax(dim=1)
    result = {"clean_accuracy": metrics.accuracy(labels, clean), "epsilons": list(epsilons),
              "asr": {}, "robust_accuracy": {}}
    for name in ATTACKS:
        result["asr"][name], result["robust_accuracy"][name] = [], []
        for eps in epsilons:
            adv = (attacks.fgsm(model, images, labels, eps, loss=loss) if name == "FGSM"
                   else attacks.pgd(model, images, labels, eps, steps=pgd_steps, loss=loss))
            with torch.no_grad():
                pred = model(adv).argmax(dim=1)
            result["asr"][name].append(metrics.attack_success_rate(labels, clean, pred))
            result["robust_accuracy"][name].append(metrics.accuracy(labels, pred))
    return result


def _check_epsilons(epsilons) -> None:
    if (not isinstance(epsilons, (tuple, list)) or not epsilons
            or any(isinstance(e, bool) or not isinstance(e, numbers.Real) or not 0 < e <= 1 for e in epsilons)):
        raise ValueError(f"epsilons must be budgets in (0, 1] (pixel units), got {epsilons!r}")


@dataclass(frozen=True)
class DefenceRun:
    """One (defence, seed) of :func:`defence_experiment`: everything that determines its numbers
    (with the data it loads: :func:`defence_key`). ``options``: sorted (name, value) pairs for
    :func:`perturb_batch`."""

    dataset: str = "cifar10"
    defence: str = "none"
    seed: int = 0
    n_train: int = 1500
    n_test: int = 500
    epochs: int = 10
    epsilons: tuple[float, ...] = EPSILONS
    n_layers: int = 4
    root: str | None = None   # None: $QROBUST_DATA, the cache, else the bundled subset
    options: tuple = ()
    model: str = "quantum"

    def __post_init__(self) -> None:
        validation.choice(self.dataset, "dataset", POOL)
        validation.choice(self.model, "model", MODELS)
        validation.choice(self.defence, "defence", DEFENCES)
        validation.seed(self.seed)
        for name in ("n_train", "n_test", "epochs", "n_layers"):
            validation.positive_int(getattr(self, name), name)
        _check_epsilons(self.epsilons)
        validation.folder(self.root, "root")


@functools.lru_cache(maxsize=4)
def _experiment_data(dataset: str, n_train: int, n_test: int, root: str | None, data_env: str) -> tuple:
    """(train, test) of one experiment, loaded once per process and data source."""
    return (data.load(dataset, "train", n_samples=n_train, root=root, verbose=False),
            data.load(dataset, "test", n_samples=n_test, root=root, verbose=False))


def _data_args(config: DefenceRun) -> tuple:
    return config.dataset, config.n_train, config.n_test, config.root, os.environ.get(data.ENV_VAR, "")


def _data_of(config: DefenceRun) -> tuple:
    return _experiment_data(*_data_args(config))


@functools.lru_cache(maxsize=4)
def _fingerprint(*args) -> str:
    """The content hash of one experiment's images and labels, computed once (not per run)."""
    train, test = _experiment_data(*args)
    return experiments.fingerprint(train.images, train.labels, test.images, test.labels)


def defence_key(config: DefenceRun) -> str:
    """The cache key of a run: its whole config, a content hash of the data it loads and the
    code version."""
    return experiments.config_key(config, _fingerprint(*_data_args(config)))


def defence_run(config: DefenceRun) -> dict:
    """Train one model with one defence and attack it: ``{"defence", "seed", "train_seconds",
    ...}`` with the fields of :func:`evaluate_attacks`."""
    train, test = _data_of(config)
    x_train, y_train = torch.as_tensor(train.images), torch.as_tensor(train.labels).long()
    x_test, y_test = torch.as_tensor(test.images), torch.as_tensor(test.labels).long()
    shape, n_classes = tuple(x_train.shape[1:]), len(train.class_names)
    model = (QuantumImageClassifier(shape, pool=POOL[config.dataset], n_layers=config.n_layers, n_classes=n_classes,
                                    seed=config.seed, device="default.qubit") if config.model == "quantum"
             else HybridImageClassifier(shape, n_layers=config.n_layers, n_classes=n_classes, seed=config.seed,
                                        device="default.qubit"))
    start = time.perf_counter()
    train_with_defence(model, x_train, y_train, config.defence, epochs=config.epochs, lr=MODELS[config.model],
                       seed=config.seed, progress=False, **dict(config.options))
    seconds = time.perf_counter() - start
    return {"model": config.model, "defence": config.defence, "seed": config.seed, "train_seconds": seconds,
            **evaluate_attacks(model, x_test, y_test, config.epsilons)}


def defence_experiment(dataset: str = "cifar10", defences=DEFENCES, n_train: int = 1500,
                       n_test: int = 500, seeds=(0, 1, 2), epochs: int = 10, epsilons=EPSILONS,
                       n_layers: int = 4, root: str | None = None, progress: bool = True,
                       grid_options: dict | None = None, model: str = "quantum", **defence_options) -> dict:
    """Train ``model`` (one of :data:`MODELS`: the
    :class:`~qrobust_lite.quantum_classifier.QuantumImageClassifier` or the
    :class:`~qrobust_lite.quantum_classifier.HybridImageClassifier`) with each defence and seed.

    One :class:`DefenceRun` per (defence, seed), run by
    :func:`~qrobust_lite.experiments.run_grid` (``grid_options``: ``cache``, ``executor``,
    ``n_jobs``, ``client``, ``threads``; by default one run at a time on this process's torch
    threads). Returns ``{"config": ..., "runs": [...]}``, one run per (defence, seed) with
    ``train_seconds`` and the fields of :func:`evaluate_attacks`. Data from
    :func:`~qrobust_lite.data.load` (class-balanced; bundled subsets without ``root``).
    """
    if dataset not in POOL:
        raise ValueError(f"dataset must be one of {list(POOL)}, got {dataset!r}")
    unknown = [d for d in defences if d not in DEFENCES]
    if unknown or not defences:
        raise ValueError(f"defences must be a non-empty selection of {list(DEFENCES)}, got {list(defences)!r}")
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    _check_epsilons(epsilons)
    validation.positive_int(n_train, "n_train")
    validation.positive_int(n_test, "n_test")
    validation.choice(model, "model", MODELS)
    root = validation.folder(root, "root")
    train, test = _experiment_data(dataset, n_train, n_test, root, os.environ.get(data.ENV_VAR, ""))
    config = {"dataset": dataset, "model": model, "defences": list(defences), "n_train": len(train),
              "n_test": len(test), "seeds": list(seeds), "epochs": epochs,
              "epsilons": list(epsilons), "n_layers": n_layers, "pool": POOL[dataset],
              "data_source": train.source, **defence_options}
    options = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in defence_options.items()))
    configs = [DefenceRun(dataset, d, s, n_train, n_test, epochs, tuple(epsilons), n_layers, root, options, model)
               for d in defences for s in seeds]
    runs = experiments.run_grid(configs, defence_run, key=defence_key, progress=progress,
                                desc=f"{dataset}, {model}: defences x seeds",
                                **{"n_jobs": 1, **(grid_options or {})})
    return {"config": config, "runs": runs}


def summarise(results: dict) -> dict:
    """Mean and sample standard deviation over seeds, per defence:
    ``{defence: {"clean_accuracy": (m, s), "train_seconds": (m, s), "asr": {attack: [(m, s), ...]}}}``.
    """
    def stats(values) -> tuple[float, float]:
        values = np.asarray(values, dtype=float)
        return float(np.nanmean(values)), float(np.nanstd(values, ddof=1)) if len(values) > 1 else math.nan

    table = {}
    for defence in results["config"]["defences"]:
        rows = [r for r in results["runs"] if r["defence"] == defence]
        table[defence] = {
            "clean_accuracy": stats([r["clean_accuracy"] for r in rows]),
            "train_seconds": stats([r["train_seconds"] for r in rows]),
            "asr": {a: [stats(v) for v in zip(*(r["asr"][a] for r in rows))] for a in ATTACKS},
        }
    return table


def format_table(results: dict, attack: str = "PGD") -> str:
    """The summary as a text table (75 characters wide for 3 budgets): clean accuracy, ASR per
    budget (mean ± std over seeds), training time in seconds (and x undefended)."""
    if attack not in ATTACKS:
        raise ValueError(f"attack must be one of {list(ATTACKS)}, got {attack!r}")
    table = summarise(results)
    eps = results["config"]["epsilons"]
    base = table.get("none", {}).get("train_seconds", (math.nan,))[0]
    head = f"{'defence':<16}{'clean acc':>12}" + "".join(
        f"{f'{attack} {e * 255:.0f}/255':>12}" for e in eps) + f"{'train s':>11}"
    lines = [head]
    for defence, row in table.items():
        m, s = row["clean_accuracy"]
        cells = "".join(f"{f'{a:.3f}±{b:.3f}':>12}" for a, b in row["asr"][attack])
        t = row["train_seconds"][0]
        lines.append(f"{defence:<16}{f'{m:.3f}±{s:.3f}':>12}{cells}{f'{t:.1f} ({t / base:.1f}x)':>11}")
    return "\n".join(lines)


def plot_attack_success(results: dict, axes=None):
    """ASR against budget, one panel per attack, mean +- std over seeds per defence."""
    import matplotlib.pyplot as plt

    table = summarise(results)
    eps = np.array(results["config"]["epsilons"]) * 255
    if axes is None:
        _, axes = plt.subplots(1, len(ATTACKS), figsize=(9, 3.4), sharey=True)
    for ax, attack in zip(axes, ATTACKS):
        for defence, row in table.items():
            mean, std = np.array(row["asr"][attack]).T
            ax.errorbar(eps, mean, yerr=std, marker="o", capsize=3, label=defence)
        ax.set(title=attack, xlabel="budget epsilon (x 1/255)", xticks=eps)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("attack success rate")
    axes[-1].legend(fontsize=8)
    return axes
