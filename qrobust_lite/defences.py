"""Training defences against adversarial attacks, and the experiment that compares them
(book: Part II, *Defending with quantum patches*; paper: Tran et al. 2026).

Every defence trains the same model the same way; they differ only in what half of each
training batch looks like (the other half stays clean):

- ``"none"``: nothing changed, the baseline;
- ``"gaussian noise"``: pixels plus N(0, sigma^2), clipped to [0, 1];
- ``"quantum patches"``: RQC pseudo-noise (:func:`~qrobust_lite.quantum_patches.quantum_patch`),
  from a circuit drawn per batch out of ``circuit_seeds``;
- ``"co-author patches"``: the co-author's recipe at half resolution
  (:func:`~qrobust_lite.quantum_patches.half_resolution_patch`), same circuits;
- ``"PGD training"``: PGD adversarial examples against the model as it is at that step
  {Madry et al. 2018}, the classical defence the paper compares its effect with.

:func:`defence_experiment` trains each defence with several seeds and scores clean accuracy,
attack success rate (ASR) and robust accuracy under FGSM, PGD and PGD with a random start and
a restart at several budgets, plus training time; each run keeps which test images each
model gets right, so that :func:`common_base` can compare defences on the images that every
one of them classifies correctly. Gaussian noise is matched to the patches' strength by
default (:func:`matched_sigma`).

>>> x, y = torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 0, 1])
>>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2), torch.nn.Softmax(1))
>>> out = perturb_batch("gaussian noise", model, x, y, torch.Generator().manual_seed(0))
>>> out.shape, bool(torch.equal(out[2:], x[2:]))   # only the first half is changed
(torch.Size([4, 1, 4, 4]), True)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from . import attacks, experiments, metrics, scales, validation
from .quantum_classifier import IMAGE_SHAPE, HybridImageClassifier, QuantumImageClassifier, QuanvolutionClassifier
from .quantum_patches import half_resolution_patch, quantum_patch
from .training import fit
from .validation import (
    COUNT,
    GENERATOR,
    IMAGE_BATCH,
    LABELS,
    MODEL,
    N_CLASSES,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    SHARE,
    TEXT,
    Anything,
    Bool,
    Instance,
    Int,
    Optional,
    Options,
    Real,
    Sequence_,
    validate_params,
)

DEFENCES = ("none", "gaussian noise", "quantum patches", "co-author patches", "PGD training")
#: ``"PGD"`` starts from the clean image (deterministic); ``"PGD-restart"`` starts from a random
#: point in the budget's box and tries again from another where the first run fails.
ATTACKS = ("FGSM", "PGD", "PGD-restart")
# Average pooling per dataset, so that every image becomes 8 qubits' worth of amplitudes.
POOL = {"cifar10": 4, "cinic10": 4, "mnist": 2, "fashion_mnist": 2}
# The paper's headline attack success rates: (undefended, with quantum patches).
PAPER_ASR = {"cifar10": (0.898, 0.6845), "cinic10": (0.9423, 0.7868)}
EPSILONS = (1 / 255, 2 / 255, 4 / 255, 8 / 255)
#: The attacked models, each with its Adam learning rate. ``"quantum"`` is the
#: :class:`~qrobust_lite.quantum_classifier.QuantumImageClassifier` (96 angles, rate 0.05);
#: ``"hybrid"`` the :class:`~qrobust_lite.quantum_classifier.HybridImageClassifier` (rate 0.01,
#: a usual one for a CNN front end; 0.05 gave a similar clean accuracy on CIFAR-10, 0.265 against
#: 0.269 over seeds 0-2); ``"quanvolution"`` the
#: :class:`~qrobust_lite.quantum_classifier.QuanvolutionClassifier` (rate 1e-3, Adam's default).
MODELS = {"quantum": 0.05, "hybrid": 0.01, "quanvolution": 1e-3}


LOSS = Options(*attacks.LOSSES)
RESULTS = Instance(dict, "the dict defence_experiment returns")
CIRCUIT_SEEDS = Sequence_(SEED)
BUDGETS = Sequence_(Real(0, 1, low_open=True))  # attack budgets, pixel units
ATTACK_NAMES = Sequence_(Options(*ATTACKS), distinct=True)


@validate_params(
    defence=Options(*DEFENCES),
    model=MODEL,
    images=IMAGE_BATCH,
    labels=LABELS,
    generator=GENERATOR,
    fraction=SHARE,
    sigma=POSITIVE,
    strength=SHARE,
    circuit_seeds=CIRCUIT_SEEDS,
    epsilon=NON_NEGATIVE,
    pgd_steps=COUNT,
    loss=LOSS,
    half_res_strength=SHARE,
)
def perturb_batch(
    defence: str,
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
    fraction: float = 0.5,
    sigma: float = 0.1,
    strength: float = 0.5,
    circuit_seeds: tuple[int, ...] = (100, 101, 102, 103),
    epsilon: float = 8 / 255,
    pgd_steps: int = 3,
    loss: str = "probs",
    half_res_strength: float = 1.0,
) -> torch.Tensor:
    """A training batch (B, C, H, W) in [0, 1] with its first ``fraction`` perturbed by ``defence``.

    ``sigma``: Gaussian standard deviation (pixel units); ``strength`` and ``circuit_seeds``:
    quantum patches; ``half_res_strength``: the co-author's patches (1: the channel multiplied
    in as it is, the recipe as published), same circuits; ``epsilon`` and ``pgd_steps``: PGD
    training (random start). Returns a new tensor; ``images`` is not changed.
    """
    validation.same_length("images", images, "labels", labels)
    out = images.clone()
    k = round(fraction * len(images))
    if defence == "none" or k == 0:
        return out
    part = images[:k]
    if defence == "gaussian noise":
        noise = torch.randn(part.shape, generator=generator, dtype=part.dtype)
        out[:k] = (part + sigma * noise).clamp(0.0, 1.0)
    elif defence in ("quantum patches", "co-author patches"):
        pick = int(torch.randint(len(circuit_seeds), (1,), generator=generator))
        out[:k] = (
            quantum_patch(part, seed=circuit_seeds[pick], strength=strength)
            if defence == "quantum patches"
            else half_resolution_patch(part, circuit_seeds[pick], half_res_strength, generator)
        )
    else:
        start = int(torch.randint(2**31 - 1, (1,), generator=generator))
        out[:k] = attacks.pgd(
            model, part, labels[:k], epsilon, steps=pgd_steps, random_start=True, seed=start, loss=loss
        )
    return out


@validate_params(
    model=MODEL,
    images=IMAGE_BATCH,
    labels=LABELS,
    defence=Options(*DEFENCES),
    epochs=COUNT,
    batch_size=COUNT,
    lr=POSITIVE,
    seed=SEED,
    loss=LOSS,
    progress=Bool(),
    defence_options=Anything("options of perturb_batch, which checks them"),
)
def train_with_defence(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    defence: str = "none",
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 0.05,
    seed: int = 0,
    loss: str = "probs",
    progress: bool = True,
    **defence_options,
) -> list[float]:
    """:func:`~qrobust_lite.training.fit` with each batch passed through :func:`perturb_batch`
    (the loop's ``transform`` hook: PGD training needs the model as it is at each step);
    returns each epoch's mean loss.

    ``defence_options`` go to :func:`perturb_batch`. ``seed`` fixes the batch order and every
    random draw of the defence.
    """
    validation.non_empty(images, "images")
    validation.same_length("images", images, "labels", labels)
    # check the defence and its options on an empty batch before any training time is spent
    perturb_batch(defence, model, images[:0], labels[:0], torch.Generator(), **defence_options)
    generator = torch.Generator().manual_seed(seed)

    def transform(model: torch.nn.Module, batch: torch.Tensor, batch_labels: torch.Tensor) -> torch.Tensor:
        return perturb_batch(defence, model, batch, batch_labels, generator, loss=loss, **defence_options)

    return fit(
        model,
        images,
        labels,
        lambda out, y: attacks.classification_loss(out, y, loss),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        generator=generator,
        transform=transform,
        progress=progress,
        desc=f"training ({defence})",
    )


@validate_params(
    model=MODEL,
    images=IMAGE_BATCH,
    labels=LABELS,
    epsilons=BUDGETS,
    pgd_steps=COUNT,
    loss=LOSS,
    restarts=Int(0),
    seed=SEED,
    attack_names=ATTACK_NAMES,
)
def evaluate_attacks(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilons=EPSILONS,
    pgd_steps: int = 10,
    loss: str = "probs",
    restarts: int = 1,
    seed: int = 0,
    attack_names=ATTACKS,
) -> dict:
    """Clean accuracy, and ASR and robust accuracy per attack and budget (lists along ``epsilons``).

    ``attack_names``: a selection of :data:`ATTACKS`; ``restarts`` and ``seed`` set
    ``"PGD-restart"`` (:func:`~qrobust_lite.attacks.pgd` with a random start). The masks of which
    images are right come along as strings of ``"0"``/``"1"``, one character per image
    (``"clean_correct"``, and ``"robust_correct"`` per attack and budget; read them with
    :func:`correct_mask`).
    """
    validation.non_empty(images, "images")
    validation.same_length("images", images, "labels", labels)
    with torch.no_grad():
        clean = model(images).argmax(dim=1)
    result = {
        "clean_accuracy": metrics.accuracy(labels, clean),
        "epsilons": list(epsilons),
        "clean_correct": _mask_text(clean == labels),
        "asr": {},
        "robust_accuracy": {},
        "robust_correct": {},
    }
    for name in attack_names:
        for key in ("asr", "robust_accuracy", "robust_correct"):
            result[key][name] = []
        for eps in epsilons:
            if name == "FGSM":
                adv = attacks.fgsm(model, images, labels, eps, loss=loss)
            else:
                adv = attacks.pgd(
                    model,
                    images,
                    labels,
                    eps,
                    steps=pgd_steps,
                    loss=loss,
                    seed=seed,
                    random_start=name == "PGD-restart",
                    restarts=restarts if name == "PGD-restart" else 0,
                )
            with torch.no_grad():
                pred = model(adv).argmax(dim=1)
            result["asr"][name].append(metrics.attack_success_rate(labels, clean, pred))
            result["robust_accuracy"][name].append(metrics.accuracy(labels, pred))
            result["robust_correct"][name].append(_mask_text(pred == labels))
    return result


def _mask_text(mask: torch.Tensor) -> str:
    return (mask.cpu().to(torch.uint8) + ord("0")).numpy().tobytes().decode("ascii")


@validate_params(text=TEXT)
def correct_mask(text: str) -> torch.Tensor:
    """A stored mask (``"0"``/``"1"`` per image, from :func:`evaluate_attacks`) as a boolean tensor (N,)."""
    if set(text) - {"0", "1"}:
        raise ValueError(f"text must be a string of '0' and '1' (one per image), got {str(text)[:40]!r}")
    return torch.from_numpy(np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("1"))


@validate_params(results=RESULTS, attack=Options(*ATTACKS), defences=Optional(Sequence_(Options(*DEFENCES))))
def common_base(results: dict, attack: str = "PGD-restart", defences=None) -> dict:
    """ASR on a **common base**, seed by seed: for each seed, the test images that every one of
    ``defences`` (default: all the run's) classifies correctly when clean
    (:func:`~qrobust_lite.metrics.common_base_asr`). Returns ``{"asr": {defence: array (S, E)},
    "base": array (S,) of base sizes, "seeds": [...]}``, E budgets; a defence that lowers clean
    accuracy cannot look like one that resists.
    """
    defences = list(results["config"]["defences"] if defences is None else defences)
    runs = {(r["defence"], r["seed"]): r for r in results["runs"]}
    if len(runs) != len(results["runs"]):
        raise ValueError("results hold a (defence, seed) twice; each model must appear once")
    seeds = sorted({seed for _, seed in runs})
    missing = [(d, s) for d in defences for s in seeds if (d, s) not in runs]
    if missing:
        raise ValueError(
            f"results lack the runs (defence, seed) {missing}; common_base needs every defence at every seed"
        )
    asr = {d: np.full((len(seeds), len(results["config"]["epsilons"])), math.nan) for d in defences}
    base = np.zeros(len(seeds), dtype=int)
    for i, seed in enumerate(seeds):
        row = [runs[d, seed] for d in defences]
        clean = [correct_mask(r["clean_correct"]) for r in row]
        base[i] = int(torch.stack(clean).all(dim=0).sum())
        for k in range(asr[defences[0]].shape[1]):
            values = metrics.common_base_asr(clean, [correct_mask(r["robust_correct"][attack][k]) for r in row])
            for d, v in zip(defences, values):
                asr[d][i, k] = v
    return {"asr": asr, "base": base, "seeds": seeds}


@validate_params(images=IMAGE_BATCH, strength=SHARE, circuit_seeds=CIRCUIT_SEEDS)
def matched_sigma(
    images: torch.Tensor, strength: float = 0.5, circuit_seeds: tuple[int, ...] = (100, 101, 102, 103)
) -> float:
    """The Gaussian standard deviation of **matched strength**: the root-mean-square pixel change
    that quantum patches make to ``images`` (N, C, H, W), over ``circuit_seeds``, in pixel units."""
    validation.non_empty(images, "images")
    changes = torch.stack([quantum_patch(images, seed=s, strength=strength) - images for s in circuit_seeds])
    return float(changes.square().mean().sqrt())


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
    data_root: str | None = None  # None: $QROBUST_DATA, the cache, else the bundled subset
    options: tuple = ()
    model: str = "quantum"
    attack_names: tuple[str, ...] = ATTACKS
    attack_steps: int = 10

    def __post_init__(self) -> None:
        validation.choice(self.dataset, "dataset", POOL)
        validation.choice(self.model, "model", MODELS)
        validation.choice(self.defence, "defence", DEFENCES)
        validation.seed(self.seed)
        for name in ("n_train", "n_test", "epochs", "n_layers", "attack_steps"):
            validation.positive_int(getattr(self, name), name)
        BUDGETS.check(self.epsilons, "epsilons")
        validation.folder(self.data_root, "data_root")
        ATTACK_NAMES.check(self.attack_names, "attack_names")


#: The data of a :class:`DefenceRun`: the runs of an experiment share one copy and one fingerprint.
RUN_DATA = experiments.RunData(
    experiments.load_train_test, experiments.TRAIN_TEST_FIELDS, experiments.train_test_arrays
)


@validate_params(config=Instance(DefenceRun, "a DefenceRun"))
def defence_key(config: DefenceRun) -> str:
    """The cache key of a run: its whole config, a content hash of the data it loads and the
    code version."""
    return RUN_DATA.key(config)


@validate_params(config=Instance(DefenceRun, "a DefenceRun"))
def defence_run(config: DefenceRun) -> dict:
    """Train one model with one defence and attack it: ``{"defence", "seed", "train_seconds",
    ...}`` with the fields of :func:`evaluate_attacks`."""
    train, test = RUN_DATA.of(config)
    x_train, y_train = torch.as_tensor(train.images), torch.as_tensor(train.labels).long()
    x_test, y_test = torch.as_tensor(test.images), torch.as_tensor(test.labels).long()
    shape, n_classes = tuple(x_train.shape[1:]), len(train.class_names)
    model = build_model(config.model, shape, n_classes, config.seed, POOL[config.dataset], config.n_layers)
    start = time.perf_counter()
    train_with_defence(
        model,
        x_train,
        y_train,
        config.defence,
        epochs=config.epochs,
        lr=MODELS[config.model],
        seed=config.seed,
        progress=False,
        **dict(config.options),
    )
    seconds = time.perf_counter() - start
    return {
        "model": config.model,
        "defence": config.defence,
        "seed": config.seed,
        "train_seconds": seconds,
        **evaluate_attacks(
            model.eval(),
            x_test,
            y_test,
            config.epsilons,
            pgd_steps=config.attack_steps,
            seed=config.seed,
            attack_names=config.attack_names,
        ),
    }


@validate_params(
    name=Options(*MODELS), image_shape=IMAGE_SHAPE, n_classes=N_CLASSES, seed=SEED, pool=COUNT, n_layers=COUNT
)
def build_model(
    name: str, image_shape: tuple[int, int, int], n_classes: int = 10, seed: int = 0, pool: int = 4, n_layers: int = 4
) -> torch.nn.Module:
    """One of :data:`MODELS`, seeded: ``pool`` and ``n_layers`` set the two circuit classifiers
    (checked always, unused by the quanvolution, whose circuit is fixed: one random layer,
    circuit seed 0). Circuits run on
    ``default.qubit``'s batched path, the fastest here for 8 qubits and backpropagation."""
    if name == "quantum":
        return QuantumImageClassifier(
            image_shape, pool=pool, n_layers=n_layers, n_classes=n_classes, seed=seed, device="default.qubit"
        )
    if name == "hybrid":
        return HybridImageClassifier(
            image_shape, n_layers=n_layers, n_classes=n_classes, seed=seed, device="default.qubit"
        )
    return QuanvolutionClassifier(image_shape, n_classes=n_classes, seed=seed)


@validate_params(
    dataset=Options(*POOL),
    defences=Sequence_(Options(*DEFENCES), distinct=True),
    n_train=COUNT,
    n_test=COUNT,
    seeds=Sequence_(SEED, distinct=True),
    epochs=COUNT,
    epsilons=BUDGETS,
    n_layers=COUNT,
    data_root=experiments.DATA_ROOT,
    progress=Bool(),
    grid_options=experiments.GRID_OPTIONS,
    model=Options(*MODELS),
    attack_names=ATTACK_NAMES,
    attack_steps=COUNT,
    defence_options=Anything("options of perturb_batch, which checks them"),
)
def defence_experiment(
    dataset: str = "cifar10",
    defences=DEFENCES,
    n_train: int = 1500,
    n_test: int = 500,
    seeds=(0, 1, 2),
    epochs: int = 10,
    epsilons=EPSILONS,
    n_layers: int = 4,
    data_root: str | None = None,
    progress: bool = True,
    grid_options: dict | None = None,
    model: str = "quantum",
    attack_names=ATTACKS,
    attack_steps: int = 10,
    **defence_options,
) -> dict:
    """Train ``model`` (one of :data:`MODELS`: the
    :class:`~qrobust_lite.quantum_classifier.QuantumImageClassifier` or the
    :class:`~qrobust_lite.quantum_classifier.HybridImageClassifier`) with each defence and seed.

    One :class:`DefenceRun` per (defence, seed), run by
    :func:`~qrobust_lite.experiments.run_grid` (``grid_options``: ``cache``, ``executor``,
    ``n_jobs``, ``client``, ``threads``; by default one run at a time on this process's torch
    threads). Returns ``{"config": ..., "runs": [...]}``, one run per (defence, seed) with
    ``train_seconds`` and the fields of :func:`evaluate_attacks`. Data from
    :func:`~qrobust_lite.data.load` (class-balanced; bundled subsets without ``data_root``).
    ``attack_names`` and ``attack_steps`` (PGD's steps) set the evaluation
    (:func:`evaluate_attacks`); ``defence_options`` the training (:func:`perturb_batch`).
    Without a ``sigma``, Gaussian noise gets :func:`matched_sigma` of the first 256 training
    images (recorded in the config).
    """
    train, test = RUN_DATA.of(DefenceRun(dataset, n_train=n_train, n_test=n_test, data_root=data_root))
    if "gaussian noise" in defences and "sigma" not in defence_options:
        sample = torch.as_tensor(train.images[:256])
        defence_options["sigma"] = round(
            matched_sigma(
                sample,
                defence_options.get("strength", 0.5),
                tuple(defence_options.get("circuit_seeds", (100, 101, 102, 103))),
            ),
            4,
        )
    config = {
        "dataset": dataset,
        "model": model,
        "defences": list(defences),
        "n_train": len(train),
        "n_test": len(test),
        "seeds": list(seeds),
        "epochs": epochs,
        "epsilons": list(epsilons),
        "n_layers": n_layers,
        "pool": POOL[dataset],
        "attacks": list(attack_names),
        "attack_steps": attack_steps,
        "data_source": train.source,
        **defence_options,
    }
    options = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in defence_options.items()))
    configs = [
        DefenceRun(
            dataset,
            d,
            s,
            n_train,
            n_test,
            epochs,
            tuple(epsilons),
            n_layers,
            data_root,
            options,
            model,
            tuple(attack_names),
            attack_steps,
        )
        for d in defences
        for s in seeds
    ]
    runs = experiments.run_grid(
        configs,
        defence_run,
        key=defence_key,
        progress=progress,
        desc=f"{dataset}, {model}: defences x seeds",
        **{"n_jobs": 1, **(grid_options or {})},
    )
    return {"config": config, "runs": runs}


@validate_params(results=RESULTS)
def summarise(results: dict) -> dict:
    """Mean and sample standard deviation over seeds, per defence: ``{defence: {"clean_accuracy":
    (m, s), "train_seconds": (m, s), "asr": {attack: [(m, s), ...]}, "robust_accuracy": {...},
    "common_base_asr": {...}}}``, lists along the budgets (the common base over all the run's
    defences, :func:`common_base`). One seed: the spread is NaN.
    """

    def stats(values) -> tuple[float, float]:
        return experiments.mean_std(values, skip_nan=True)

    attacks_run = results["config"].get("attacks", list(ATTACKS))
    bases = {a: common_base(results, a) for a in attacks_run}
    table = {}
    for defence in results["config"]["defences"]:
        rows = [r for r in results["runs"] if r["defence"] == defence]
        table[defence] = {
            "clean_accuracy": stats([r["clean_accuracy"] for r in rows]),
            "train_seconds": stats([r["train_seconds"] for r in rows]),
            **{
                key: {a: [stats(v) for v in zip(*(r[key][a] for r in rows))] for a in attacks_run}
                for key in ("asr", "robust_accuracy")
            },
            "common_base_asr": {a: [stats(v) for v in bases[a]["asr"][defence].T] for a in attacks_run},
        }
    return table


#: The metrics that format_table and the plots show per budget.
TABLE_METRICS = ("asr", "robust_accuracy", "common_base_asr")


@validate_params(results=RESULTS, attack=Options(*ATTACKS), metric=Options(*TABLE_METRICS))
def format_table(results: dict, attack: str = "PGD-restart", metric: str = "asr") -> str:
    """The summary as a text table, at most 78 characters wide for 4 budgets: clean accuracy
    and ``metric`` (:data:`TABLE_METRICS`) per budget, mean ± std over seeds."""
    attacks_run = results["config"].get("attacks", list(ATTACKS))
    if attack not in attacks_run:
        raise ValueError(f"attack must be one of {list(attacks_run)}, got {attack!r}")
    table = summarise(results)
    eps = results["config"]["epsilons"]
    head = f"{'defence':<18}{'clean acc':>12}" + "".join(f"{f'{e * 255:.0f}/255':>12}" for e in eps)
    lines = [f"{metric.replace('_', ' ')} under {attack}", head]
    for defence, row in table.items():
        m, s = row["clean_accuracy"]
        cells = "".join(f"{f'{a:.3f}±{b:.3f}':>12}" for a, b in row[metric][attack])
        lines.append(f"{defence:<18}{f'{m:.3f}±{s:.3f}':>12}{cells}")
    return "\n".join(lines)


@validate_params(results=RESULTS, attack=Options(*ATTACKS), axes=Anything("three Matplotlib Axes, or None"))
def plot_attack_success(results: dict, attack: str = "PGD-restart", axes=None):
    """Under ``attack``: robust accuracy, ASR and common-base ASR against budget, one panel
    each, mean +- std over seeds per defence. Without ``axes``, two panels a row and the legend
    in the fourth cell."""
    import matplotlib.pyplot as plt

    table = summarise(results)
    eps = np.array(results["config"]["epsilons"]) * 255
    spare = None
    if axes is None:
        _, grid = plt.subplots(2, 2, figsize=(7, 5.6), sharey=True)
        axes, spare = grid.flat[: len(TABLE_METRICS)], grid[1, 1]
        spare.axis("off")
    titles = {
        "asr": "attack success rate",
        "robust_accuracy": "robust accuracy",
        "common_base_asr": "ASR on the common base",
    }
    for ax, metric in zip(axes, ("robust_accuracy", "asr", "common_base_asr")):
        for defence, row in table.items():
            mean, std = np.array(row[metric][attack]).T
            ax.errorbar(eps, mean, yerr=std, marker="o", capsize=3, label=defence)
        ax.set(xlabel="budget epsilon (x 1/255)", xticks=eps)
        ax.set_title(f"{titles[metric]} ({attack})", fontsize=10)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    if spare is not None:
        spare.legend(handles, labels, loc="center", fontsize=9)
        spare.figure.tight_layout()
    else:
        axes[0].figure.legend(
            handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), fontsize=9, frameon=False
        )
    return axes


@validate_params(
    scale=scales.SCALE,
    datasets=Sequence_(Options(*POOL), distinct=True),
    data_root=experiments.DATA_ROOT,
    grid_options=experiments.GRID_OPTIONS,
)
def report(
    scale: str = "default",
    datasets=("cifar10", "mnist"),
    data_root: str | None = None,
    grid_options: dict | None = None,
) -> tuple[dict, dict]:
    """:func:`defence_experiment` at ``scale``, shaped for a record (``qrobust-lite run
    quantum-patches``): every defence on CIFAR-10 and CINIC-10; on MNIST (where the paper
    reports no gain) undefended against the two patch recipes. ``({"results": {dataset:
    ...}}, figures)``: each dataset's results add the summary, the tables and the paper's attack
    success rates; its figure is the attack success rate of the strongest attack run."""
    settings = scales.settings("quantum_patches", scale)
    results, figures = {}, {}
    for dataset in datasets:
        chosen = ("none", "quantum patches", "co-author patches") if dataset == "mnist" else DEFENCES
        res = defence_experiment(dataset, defences=chosen, data_root=data_root, grid_options=grid_options, **settings)
        attacks_run = res["config"]["attacks"]
        results[dataset] = {
            **res,
            "summary": summarise(res),
            "table": {a: {m: format_table(res, a, m) for m in TABLE_METRICS} for a in attacks_run},
            "paper_asr": PAPER_ASR.get(dataset),
        }
        attack = "PGD-restart" if "PGD-restart" in attacks_run else attacks_run[-1]
        axes = plot_attack_success(res, attack)
        axes[0].figure.suptitle(
            f"{dataset}, {res['config']['model']} model (mean +- std over seeds {list(settings['seeds'])})"
        )
        figures[dataset] = axes[0].figure
        print(f"{dataset}\n{results[dataset]['table'][attack]['robust_accuracy']}", flush=True)
    return {"results": results}, figures
