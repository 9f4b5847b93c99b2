"""Verdicts on the papers' claims from stored full-scale runs (book: appendix *Results at the
papers' scale*).

The runs are made by ``qrobust-lite run EXPERIMENT --scale full --out results/FOLDER`` (see
:data:`RUNS`) and committed as JSON; the appendix reads them and never trains. Each verdict is
computed here from the numbers in those files, so changing a number changes the verdict:

>>> runs = [{"dataset": "mnist", "model": m, "poison": "label flip", "alpha": 0.3, "seed": s,
...          "memorised": x, "val_accuracy": 0.9} for m, x in (("MLP", 0.95), ("QNN", 0.1)) for s in (0, 1)]
>>> memorisation_verdict(runs, "mnist").verdict
'reproduced'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import defences, experiments, poisoning, spin_chain
from ..validation import SHARE, TEXT, Anything, Bool, Folder, Instance, Options, Sequence_, validate_params
from .tables import wrap

#: Experiment -> (the folder under results/, the JSON file, the command that makes it).
RUNS = {
    "poisoning, MNIST": (
        "poisoning-full-mnist",
        "poisoning.json",
        "qrobust-lite run poisoning --scale full --datasets mnist",
    ),
    "poisoning, spin chain": (
        "poisoning-full-spin",
        "poisoning.json",
        "qrobust-lite run poisoning --scale full --datasets spin",
    ),
    "unlearning": ("unlearning-full", "unlearning.json", "qrobust-lite run unlearning --scale full"),
    "label refining": ("label-refining-full", "label_refining.json", "qrobust-lite run label-refining --scale full"),
    "label refining, as published": (
        "label-refining-paper-full",
        "label_refining_paper.json",
        "qrobust-lite run label-refining-paper --scale full",
    ),
    "poisoning, authors' spin chain": (
        "poisoning-full-spin-authors",
        "poisoning.json",
        "qrobust-lite run poisoning --scale full --datasets spin-authors",
    ),
    "unlearning, authors' spin chain": (
        "unlearning-full-spin-authors",
        "unlearning.json",
        "qrobust-lite run unlearning --scale full --datasets spin-authors",
    ),
    # Part II at the largest size the data here allow: the derived CIFAR-10 subset (5,000 + 1,000
    # images) and as many official MNIST images (see the appendix)
    "quantum patches": (
        "quantum-patches-full",
        "quantum_patches.json",
        "qrobust-lite run quantum-patches --scale full --datasets cifar10,mnist --data-root ../shared/data",
    ),
}
#: The scale each stored run is made at.
STORED_SCALE = dict.fromkeys(RUNS, "full")
#: The noise level at which the memorisation claim is read (the unlearning paper's alpha).
ALPHA = 0.3
#: A network "memorises" when it reproduces at least this share of the flipped labels at :data:`ALPHA`.
MEMORISES = 0.8
#: A network "resists" when it reproduces at most this share of them.
RESISTS = 0.2


@validate_params(folder=Folder())
def load(folder: str | Path) -> dict[str, dict | None]:
    """Every stored run of :data:`RUNS` under ``folder`` (the repository's ``results/``):
    ``{experiment: its JSON, or None where it has not been run}``. A file that is not JSON is
    named in the error."""
    out = {}
    for name, (sub, file, _) in RUNS.items():
        path = Path(folder) / sub / file
        try:
            out[name] = json.loads(path.read_text()) if path.exists() else None
        except ValueError as err:
            raise ValueError(
                f"{path} is not a readable results file ({err}); run the experiment again or restore the file"
            ) from None
    return out


@dataclass(frozen=True)
class Verdict:
    """``verdict``: "reproduced", "partly" or "not"; ``reasons``: one line per test made;
    ``numbers``: what the reasons quote (mean and seed spread)."""

    verdict: str
    reasons: list[str] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)

    def text(self, heading: str) -> str:
        """``"heading: VERDICT (n seeds)"`` and a wrapped ``- reason`` line per test (a reason that
        starts with two spaces is a sub-point, indented further), each line at most
        :data:`~qrobust_lite.course.tables.WIDTH` characters (the book's code column).

        >>> verdict = Verdict("partly", ["MLP reproduces 0.909 +- 0.032 of the flipped labels"], {"seeds": 5})
        >>> print(verdict.text("MNIST"))
        MNIST: PARTLY (5 seeds)
          - MLP reproduces 0.909 +- 0.032 of the flipped labels
        """
        seeds = f" ({self.numbers['seeds']} seeds)" if "seeds" in self.numbers else ""
        lines = [wrap(f"{heading}: {self.verdict.upper()}{seeds}")]
        lines += [wrap(r.strip(), "    - " if r.startswith("  ") else "  - ") for r in self.reasons]
        return "\n".join(lines)


def _by_seed(rows: list[dict], value, what: str) -> np.ndarray:
    """``value(row)`` for each row, ordered by seed, (S,): every seed once, every value finite,
    a missing key named (a verdict is never computed from numbers it cannot read)."""
    try:
        pairs = sorted((r["seed"], float(value(r))) for r in rows)
    except (KeyError, IndexError, TypeError) as error:
        raise ValueError(f"{what}: a run lacks {error}; the runs must be those the experiment wrote") from None
    seeds = [seed for seed, _ in pairs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{what}: seeds {seeds} hold a duplicate; each seed must appear once")
    values = np.asarray([v for _, v in pairs], dtype=float)
    if not np.isfinite(values).all():
        raise ValueError(f"{what}: not finite at every seed ({dict(pairs)}); cannot judge")
    return values


def _at_alpha(runs: list[dict], dataset: str, model: str, key: str, alpha: float) -> np.ndarray:
    rows = [
        r
        for r in runs
        if (r.get("dataset"), r.get("model"), r.get("poison")) == (dataset, model, "label flip")
        and abs(r.get("alpha", np.nan) - alpha) < 1e-9
    ]
    if not rows:
        raise ValueError(
            f"dataset {dataset!r} and alpha {alpha!r}: runs hold no label-flip run of {model} "
            f"there; the runs have datasets {sorted({str(r.get('dataset')) for r in runs})}"
        )
    return _by_seed(rows, lambda r: r[key], f"{model}'s {key} on {dataset} at alpha {alpha}")


RUNS_OF = Sequence_(Instance(dict, "a stored run"), min_len=0)
RESULTS = Instance(dict, "stored results, as load gives them")
SEED_VALUES = Anything("one value per seed (a list or 1-D array); shapes and values are checked below")
EFFECT = Instance(dict, "an entry of patch_effects")


@validate_params(runs=RUNS_OF, dataset=TEXT, alpha=SHARE)
def memorisation_verdict(runs: list[dict], dataset: str, alpha: float = ALPHA) -> Verdict:
    """Paper C's first claim on one dataset: under label flips the MLP memorises (reproduces at
    least :data:`MEMORISES` of the flipped labels at ``alpha``) while the QNN resists (at most
    :data:`RESISTS`). Both: "reproduced"; one: "partly"; neither: "not". The QNN's validation
    accuracy over alpha, and where it drops (:func:`~qrobust_lite.poisoning.critical_alpha`),
    are reported with it."""
    mlp = _at_alpha(runs, dataset, "MLP", "memorised", alpha)
    qnn = _at_alpha(runs, dataset, "QNN", "memorised", alpha)
    mlp_stats, qnn_stats = experiments.mean_std(mlp, ddof=0), experiments.mean_std(qnn, ddof=0)
    numbers = {"MLP memorised": mlp_stats, "QNN memorised": qnn_stats, "seeds": len(mlp)}
    reasons = [
        "MLP reproduces {:.3f} +- {:.3f}".format(*mlp_stats) + f" of the flipped labels at alpha {alpha} "
        f"({'memorises' if mlp_stats[0] >= MEMORISES else 'does not memorise'}: threshold {MEMORISES})",
        "QNN reproduces {:.3f} +- {:.3f} ".format(*qnn_stats)
        + f"({'resists' if qnn_stats[0] <= RESISTS else 'does not resist'}: threshold {RESISTS})",
    ]
    curves = poisoning.curves([r for r in runs if r["dataset"] == dataset and r["poison"] == "label flip"])
    alphas, values = curves[(dataset, "QNN", "label flip")]
    if len(alphas) > 1:
        location, spread = poisoning.critical_alpha(alphas, values)
        numbers["QNN critical alpha"] = (location, spread)
        reasons.append(
            "the QNN's validation accuracy never falls over alpha"
            if np.isnan(location)
            else f"the QNN's validation accuracy drops most steeply at alpha {location:.2f} +- {spread:.2f}"
        )
    passed = int(mlp_stats[0] >= MEMORISES) + int(qnn_stats[0] <= RESISTS)
    return Verdict(("not", "partly", "reproduced")[passed], reasons, numbers)


#: The authors' own XXZ label-flip results at alpha = 0.0, 0.1, ..., 0.9, the mean over their 5
#: runs of the final validation and training accuracy (decoded from ``data/fig2d_xxz_phase.npy``
#: of their repository, yutuer21/quantum-machine-unlearning, rows 0 and 1 of its 4 x 50 array).
AUTHORS_XXZ = {
    "MLP": {
        "val_accuracy": (0.990, 0.907, 0.774, 0.712, 0.543, 0.538, 0.450, 0.312, 0.217, 0.174),
        "train_accuracy": (1.000, 0.988, 0.983, 0.993, 0.973, 0.939, 0.968, 0.980, 0.993, 1.000),
    },
    "QNN": {
        "val_accuracy": (0.990, 0.998, 1.000, 0.995, 0.971, 0.721, 0.202, 0.050, 0.033, 0.021),
        "train_accuracy": (0.990, 0.900, 0.805, 0.705, 0.615, 0.517, 0.568, 0.671, 0.766, 0.873),
    },
}


def _representation_runs(runs: list[dict], representation: str) -> list[dict]:
    """The authors'-data runs of the QNN (blind to the phase, so shared) and of the MLP reading
    ``representation``."""
    return [
        r
        for r in runs
        if r["dataset"] == poisoning.AUTHORS
        and (r["model"] == "QNN" or r.get("representation", "real") == representation)
    ]


@validate_params(runs=RUNS_OF, alpha=SHARE)
def representation_verdicts(runs: list[dict], alpha: float = ALPHA) -> dict[str, Verdict]:
    """Paper C's first claim on the authors' quantum data, once per way the MLP is shown a state
    (:data:`~qrobust_lite.spin_chain.REPRESENTATIONS`): :func:`memorisation_verdict` on the QNN's
    runs and that representation's MLP runs. The QNN cannot see a global phase, so its runs serve
    all three."""
    return {
        rep: memorisation_verdict(_representation_runs(runs, rep), poisoning.AUTHORS, alpha)
        for rep in spin_chain.REPRESENTATIONS
    }


@validate_params(runs=RUNS_OF)
def representation_unlearning_verdicts(runs: list[dict]) -> dict[str, Verdict]:
    """:func:`unlearning_verdict` on the authors' quantum data, once per MLP representation."""
    return {
        rep: unlearning_verdict(_representation_runs(runs, rep), poisoning.AUTHORS)
        for rep in spin_chain.REPRESENTATIONS
    }


@validate_params(verdicts=Instance(dict, "{representation: Verdict}"))
def representation_finding(verdicts: dict[str, Verdict]) -> str:
    """One sentence, from the numbers of :func:`representation_verdicts`, on which way of showing
    a state the MLP's memorisation depends on.

    >>> v = {"real": Verdict("partly", numbers={"MLP memorised": (0.05, 0.02)}),
    ...      "eigensolver-phase": Verdict("reproduced", numbers={"MLP memorised": (0.9, 0.05)})}
    >>> import textwrap
    >>> print(textwrap.fill(representation_finding(v), 88))
    The MLP memorises only when it reads eigensolver-phase states (0.900 of the flips);
    reading real states it reproduces 0.050: its memorisation of quantum data rests on how a
    state's global phase is shown to it, which carries nothing about the phase of matter.
    """
    share = {rep: v.numbers["MLP memorised"][0] for rep, v in verdicts.items()}
    memorises = [rep for rep in share if share[rep] >= MEMORISES]
    others = [rep for rep in share if rep not in memorises]
    listed = lambda reps: " or ".join(f"{rep} states" for rep in reps)  # noqa: E731
    if not memorises:
        return (
            f"The MLP memorises under no representation (at most {max(share.values()):.3f} of the flips, "
            f"threshold {MEMORISES}): on these runs the claim fails whichever way the state is shown."
        )
    if not others:
        return (
            f"The MLP memorises under every representation (at least {min(share.values()):.3f} of the "
            "flips): its memorisation does not depend on how the state is shown."
        )
    return (
        f"The MLP memorises only when it reads {listed(memorises)} "
        f"({', '.join(f'{share[r]:.3f}' for r in memorises)} of the flips); reading {listed(others)} it "
        f"reproduces {' and '.join(f'{share[r]:.3f}' for r in others)}: its memorisation of quantum data rests "
        "on how a state's global phase is shown to it, which carries nothing about the phase of matter."
    )


#: After unlearning, a model still "holds the poison" when its forget accuracy exceeds the
#: retrained reference's by more than this share of the flipped labels.
RESIDUAL = 0.05


def _final(runs: list[dict], dataset: str, model: str, method: str, key: str = "forget", epoch: int = -1) -> np.ndarray:
    rows = [r for r in runs if (r.get("dataset"), r.get("model"), r.get("method")) == (dataset, model, method)]
    if not rows:
        raise ValueError(
            f"dataset {dataset!r}: runs hold no {method} run of {model}; the runs have datasets "
            f"{sorted({str(r.get('dataset')) for r in runs})}"
        )
    return _by_seed(rows, lambda r: r["history"][epoch][key], f"{model}'s {method} {key} on {dataset}")


@validate_params(runs=RUNS_OF, dataset=TEXT)
def unlearning_verdict(runs: list[dict], dataset: str) -> Verdict:
    """Paper C's second claim on one dataset: approximate unlearning removes the poison from the
    QNN, while the MLP keeps "stubborn memories". A model's **residual** is the forget accuracy
    after its best approximate method (fine-tune, gradient ascent or SCRUB, at the last epoch)
    minus that of the model retrained without the poison, mean over seeds. The QNN is
    "cleaned" when its residual is at most :data:`RESIDUAL`; the MLP is "stubborn" when its
    residual is above it. Both: "reproduced"; one: "partly"; neither: "not". A QNN that never
    took the poison in (its forget accuracy before unlearning already within :data:`RESIDUAL` of
    the reference) is said so: there was nothing to unlearn."""
    approximate = ("fine-tune", "gradient ascent", "SCRUB")
    numbers: dict = {"seeds": len(_final(runs, dataset, "QNN", "retrain"))}
    reasons, residual = [], {}
    for model in ("QNN", "MLP"):
        reference = _final(runs, dataset, model, "retrain")
        finals = {m: _final(runs, dataset, model, m) for m in approximate}
        best = min(finals, key=lambda m: finals[m].mean())
        residual[model] = finals[best].mean() - reference.mean()
        before = _final(runs, dataset, model, approximate[0], epoch=0)
        before_stats, after_stats = experiments.mean_std(before, ddof=0), experiments.mean_std(finals[best], ddof=0)
        numbers[f"{model} residual"] = (residual[model], after_stats[1])
        numbers[f"{model} forget before"] = before_stats
        reasons.append(
            f"{model}: forget accuracy "
            + "{:.3f} +- {:.3f}".format(*before_stats)
            + " before unlearning, {:.3f} +- {:.3f}".format(*after_stats)
            + f" after {best} (the best method), "
            f"{reference.mean():.3f} for the retrained reference: residual {residual[model]:+.3f}"
        )
        if model == "QNN" and before.mean() - reference.mean() <= RESIDUAL:
            reasons.append(
                "the QNN's forget accuracy was already at the reference's level before unlearning: "
                "it never took the poison in, so there was nothing to unlearn"
            )
    cleaned, stubborn = residual["QNN"] <= RESIDUAL, residual["MLP"] > RESIDUAL
    reasons.append(
        f"QNN {'cleaned' if cleaned else 'not cleaned'}, MLP {'stubborn' if stubborn else 'not stubborn'} "
        f"(threshold {RESIDUAL})"
    )
    return Verdict(("not", "partly", "reproduced")[int(cleaned) + int(stubborn)], reasons, numbers)


#: A label "beats" another on one number when the mean of their same-seed differences is
#: larger than this many standard errors of that mean (differences within seed noise do not count).
SEPARATION = 2.0


@validate_params(a=SEED_VALUES, b=SEED_VALUES, higher_is_better=Bool())
def beats(a: np.ndarray, b: np.ndarray, higher_is_better: bool) -> tuple[bool, float, float]:
    """Whether ``a`` beats ``b`` seed by seed (both ``(S,)``, same seeds in the same order):
    ``(won, mean gain, its standard error)``, the gain signed so that positive is better and
    won when it exceeds :data:`SEPARATION` standard errors and there are at least
    :data:`MIN_SEEDS` seeds (the error is NaN for one seed). Non-finite values are refused.

    >>> beats(np.array([0.52, 0.55, 0.53]), np.array([0.50, 0.52, 0.51]), higher_is_better=True)[0]
    True
    >>> beats(np.array([0.52, 0.55]), np.array([0.50, 0.52]), higher_is_better=True)[0]   # two seeds
    False
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"a and b must be 1-D arrays of one value per seed, of the same length; got shapes {a.shape} and {b.shape}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"a and b must be finite at every seed; got {a.tolist()} and {b.tolist()}")
    gain = (a - b) if higher_is_better else (b - a)
    error = float(gain.std(ddof=1) / np.sqrt(len(gain))) if len(gain) > 1 else float("nan")
    return bool(len(gain) >= MIN_SEEDS and gain.mean() > SEPARATION * error), float(gain.mean()), error


def _spread(values: np.ndarray) -> str:
    """``"mean +- std"`` over seeds, as the reasons print it."""
    return "{:.3f} +- {:.3f}".format(*experiments.mean_std(values))


@validate_params(results=RESULTS)
def refining_verdict(results: dict) -> Verdict:
    """Paper A's claim on one dataset's :func:`~qrobust_lite.label_refining.robustness_experiment`
    results: the CNN on quantum-refined labels is more robust (higher accuracy over the
    corrupted test sets) and better calibrated (lower clean ECE) than on one-hot labels and on
    label smoothing, each label at the setting the validation split selected. A comparison is
    won when the same-seed differences favour the refined labels by more than
    :data:`SEPARATION` standard errors. All four won: "reproduced"; some: "partly"; none: "not"."""
    from .. import label_refining as lr

    seeds, chosen = lr.per_seed(results), results["selected"]
    at = {m: seeds[(m, tuple(sorted(chosen[m].items())))] for m in ("quantum-refined", "one-hot", "label smoothing")}
    numbers = {
        "seeds": len(results["config"]["seeds"]),
        **{f"{m} {k}": experiments.mean_std(at[m][k]) for m in at for k in ("corrupted accuracy", "clean ece")},
    }
    refined, reasons, wins = at["quantum-refined"], [], 0
    for baseline in ("one-hot", "label smoothing"):
        if list(at[baseline]["seeds"]) != list(refined["seeds"]):
            raise ValueError(
                f"results: {baseline} and quantum-refined were run on different seeds "
                f"({list(at[baseline]['seeds'])} and {list(refined['seeds'])}); they are compared seed by seed"
            )
        for key, higher, word in (
            ("corrupted accuracy", True, "more robust"),
            ("clean ece", False, "better calibrated"),
        ):
            won, gain, error = beats(refined[key], at[baseline][key], higher)
            gain_seeds = refined["seeds"]
            wins += won
            reasons.append(
                f"{'' if won else 'not '}{word} than {lr.label_name(baseline, chosen[baseline])}: "
                f"{key} {_spread(refined[key])} against {_spread(at[baseline][key])}, same-seed gain "
                f"{gain:+.3f} +- {error:.3f} (standard error)"
                + (
                    ""
                    if won or gain <= 0
                    else f": only {len(gain_seeds)} seed(s), fewer than {MIN_SEEDS}"
                    if len(gain_seeds) < MIN_SEEDS
                    else f": within {SEPARATION:g} standard errors of zero, seed noise"
                )
            )
    reasons.insert(
        0, f"{lr.label_name('quantum-refined', chosen['quantum-refined'])}, chosen by the {results['config']['rule']}"
    )
    return Verdict("reproduced" if wins == 4 else "partly" if wins else "not", reasons, numbers)


#: The budget and attack at which paper B's claim is read, PGD at 8/255 from a random start with
#: a restart (the strongest attack of the run; the paper names neither attack nor budget).
PATCHES_EPSILON = 8 / 255
PATCHES_ATTACK = "PGD-restart"
#: The course's recipe is the one judged; the co-author's recipe and the controls are reported beside it.
PATCHES_DEFENCE = "quantum patches"


def _budget_index(experiment: dict, epsilon: float) -> int:
    budgets = experiment["config"]["epsilons"]
    k = [i for i, e in enumerate(budgets) if abs(e - epsilon) < 1e-9]
    if not k:
        raise ValueError(f"epsilon must be one of the run's budgets {budgets}, got {epsilon!r}")
    return k[0]


def _per_seed(experiment: dict, defence: str, key: str, attack: str, k: int) -> np.ndarray:
    """One defence's ``key`` (``"clean_accuracy"`` or ``"robust_accuracy"``) seed by seed (ascending), (S,)."""
    rows = [r for r in experiment["runs"] if r.get("defence") == defence]
    if not rows:
        raise ValueError(f"the run has no {defence!r} models; it has {experiment['config']['defences']}")
    return _by_seed(
        rows, lambda r: r[key] if key == "clean_accuracy" else r[key][attack][k], f"the run's {key} of {defence!r}"
    )


@validate_params(experiment=RESULTS, epsilon=SHARE, attack=Options(*defences.ATTACKS))
def patch_effects(experiment: dict, epsilon: float = PATCHES_EPSILON, attack: str = PATCHES_ATTACK) -> dict:
    """Each defence of one stored experiment against no defence, seed by seed (:func:`beats`):
    ``{defence: {"asr": (won, gain, error), "robust": (won, gain, error), "clean": (m, s)}}``.
    ASR is taken on the common base of every model of the same seed
    (:func:`~qrobust_lite.defences.common_base`), its gain positive when the defence lowers it;
    robust accuracy's positive when the defence raises it. A defence **resists** when it wins on both.
    Where a seed's common base is empty its ASR is NaN and the ASR comparison is not won
    (:func:`patches_verdict` refuses to judge such a run).
    """
    k = _budget_index(experiment, epsilon)
    base = defences.common_base(experiment, attack)
    asr = base["asr"]
    robust_none = _per_seed(experiment, "none", "robust_accuracy", attack, k)
    effects = {}
    for defence in experiment["config"]["defences"]:
        effects[defence] = {
            "asr": (
                beats(asr[defence][:, k], asr["none"][:, k], higher_is_better=False)
                if np.isfinite(asr[defence][:, k]).all() and np.isfinite(asr["none"][:, k]).all()
                else (False, float("nan"), float("nan"))
            ),
            "robust": beats(
                _per_seed(experiment, defence, "robust_accuracy", attack, k), robust_none, higher_is_better=True
            ),
            "clean": experiments.mean_std(_per_seed(experiment, defence, "clean_accuracy", attack, k)),
            "base": base["base"].tolist(),
        }
    return effects


@validate_params(effect=EFFECT)
def resists(effect: dict) -> bool:
    """Whether one defence's entry of :func:`patch_effects` resists: a lower common-base ASR and
    a higher robust accuracy, both won seed by seed."""
    return bool(effect["asr"][0] and effect["robust"][0])


@validate_params(name=TEXT, effect=EFFECT)
def effect_line(name: str, effect: dict) -> str:
    """One defence's entry of :func:`patch_effects` as a line of text."""
    (asr_won, asr_gain, asr_err), (rob_won, rob_gain, rob_err) = effect["asr"], effect["robust"]
    return (
        f"{name} (clean {effect['clean'][0]:.3f}): common-base ASR {0.0 - asr_gain:+.3f} +- {asr_err:.3f}"
        f" ({'lower' if asr_won else 'not lower'}), robust accuracy {rob_gain:+.3f} +- {rob_err:.3f}"
        f" ({'higher' if rob_won else 'not higher'})"
    )


def _paper_budget_lines(experiment: dict, attack: str) -> list[str]:
    """Not counted in the verdict: the judged patches at the budget whose undefended ASR is
    closest to the paper's, and whether matched Gaussian noise does better there."""
    before = defences.PAPER_ASR["cifar10"][0]
    budgets = experiment["config"]["epsilons"]
    undefended = [float(np.mean(_per_seed(experiment, "none", "asr", attack, k))) for k in range(len(budgets))]
    k = int(np.argmin([abs(u - before) for u in undefended]))
    effects = patch_effects(experiment, budgets[k], attack)
    lines = [
        f"not counted: at {budgets[k] * 255:.0f}/255 the undefended ASR ({undefended[k]:.3f}) is closest to the "
        f"paper's {before:.3f}; there:",
        "  " + effect_line(PATCHES_DEFENCE, effects[PATCHES_DEFENCE]),
    ]
    if "gaussian noise" in effects:
        won, gain, error = beats(
            _per_seed(experiment, "gaussian noise", "robust_accuracy", attack, k),
            _per_seed(experiment, PATCHES_DEFENCE, "robust_accuracy", attack, k),
            True,
        )
        lines.append(
            f"  matched Gaussian noise against the judged patches: robust accuracy {gain:+.3f} +- {error:.3f}"
            f" ({'higher: the quantum part is not what helps' if won else 'not higher'})"
        )
    return lines


@validate_params(results=RESULTS, epsilon=SHARE, attack=Options(*defences.ATTACKS))
def patches_verdict(results: dict, epsilon: float = PATCHES_EPSILON, attack: str = PATCHES_ATTACK) -> Verdict:
    """Paper B's claim from a stored ``qrobust-lite run quantum-patches`` (its ``"results"``):
    training with quantum patches makes the model resist ``attack`` at ``epsilon`` on CIFAR-10
    (a lower ASR on the common base **and** a higher robust accuracy than no defence, seed by
    seed, :func:`patch_effects`), and brings no such gain on MNIST. Both: "reproduced"; one:
    "partly"; none: "not". The judged recipe is :data:`PATCHES_DEFENCE`; the co-author's recipe,
    matched Gaussian noise and PGD training are reason lines, not counted (they answer whether
    the quantum part matters and how the effect compares with adversarial training)."""
    for name in ("cifar10", "mnist"):
        if name not in results:
            raise ValueError(f"results must hold 'cifar10' and 'mnist'; they hold {sorted(results)}")
    reasons, won = [], {}
    for name in ("cifar10", "mnist"):
        experiment = results[name]
        effects = patch_effects(experiment, epsilon, attack)
        if min(effects["none"]["base"]) == 0:
            raise ValueError(
                f"the {name} run's common base is empty at some seed ({effects['none']['base']} "
                "images): no ASR to compare"
            )
        if PATCHES_DEFENCE not in effects:
            raise ValueError(f"the {name} run has no {PATCHES_DEFENCE!r} models")
        won[name] = resists(effects[PATCHES_DEFENCE])
        clean = effects["none"]["clean"][0]
        reasons.append(
            f"{name}, {experiment['config'].get('model', 'quantum')} model, {attack} "
            f"{epsilon * 255:.0f}/255, {len(experiment['config']['seeds'])} seeds, undefended clean "
            f"accuracy {clean:.3f}, common base {min(effects['none']['base'])}-"
            f"{max(effects['none']['base'])} images per seed:"
        )
        for defence, effect in effects.items():
            if defence != "none":
                reasons.append(
                    "  " + effect_line(defence, effect) + (" <- judged" if defence == PATCHES_DEFENCE else "")
                )
    reasons += _paper_budget_lines(results["cifar10"], attack)
    reasons.append(
        (
            "CIFAR-10: the judged patches resist, as the paper says"
            if won["cifar10"]
            else "CIFAR-10: the judged patches do not resist; the paper reports a drop in ASR"
        )
        + "; "
        + (
            "MNIST: they resist there too, where the paper reports no gain"
            if won["mnist"]
            else "MNIST: no gain, as the paper says"
        )
    )
    numbers = {"seeds": len(results["cifar10"]["config"]["seeds"]), "epsilon": epsilon, "attack": attack}
    return Verdict(("not", "partly", "reproduced")[int(won["cifar10"]) + int(not won["mnist"])], reasons, numbers)


#: Paper A calls its own largest loss of clean accuracy "competitive" (Fashion-MNIST, 91.32% ->
#: 88.92%, 2.4 points): a mean same-seed loss up to this much counts as competitive here.
COMPETITIVE = 0.025
#: Fewer paired seeds than this never make a difference significant (a standard error from two
#: values is itself too uncertain to judge by).
MIN_SEEDS = 3
#: The conditions of paper A's tables that carry noise, per dataset (Tables 1-3).
PAPER_A_NOISY = {
    "mnist": [f"noise-{s:g}" for s in (0.1, 0.2, 0.3, 0.4, 0.5)]
    + [f"noise-{s:g}+rot20" for s in (0.1, 0.2, 0.3, 0.4, 0.5)],
    "fashion_mnist": ["noise-0.1", "noise-0.2", "noise-0.3"],
}


def _seed_means(table: dict, method: str, condition_names: list[str], where: str) -> np.ndarray:
    """One value per seed: ``table[method][c]`` averaged over the conditions, checked finite."""
    if method not in table:
        raise ValueError(f"{where}: no {method!r} results; it holds {sorted(table)}")
    missing = [c for c in condition_names if c not in table[method]]
    if missing:
        raise ValueError(f"{where}: {method!r} lacks conditions {missing}")
    values = np.asarray([table[method][c] for c in condition_names], dtype=float)
    if values.ndim != 2 or not np.isfinite(values).all():
        raise ValueError(f"{where}: {method!r} must hold one finite number per seed for every condition")
    return values.mean(axis=0)


@validate_params(summary=RESULTS, dataset=TEXT)
def published_refining_verdict(summary: dict, dataset: str) -> Verdict:
    """Paper A's claims as published, on one dataset of a stored ``qrobust-lite run
    label-refining-paper`` summary (:func:`~qrobust_lite.paper_methods.summary`): the student on
    the quantum labeler's soft labels (M3) is (1) more robust under the paper's noisy
    conditions than one-hot (M1) and (2) than label smoothing (M2), each read as the mean
    accuracy over :data:`PAPER_A_NOISY` seed by seed with :func:`beats`; (3) competitive on
    clean data (mean same-seed loss at most :data:`COMPETITIVE`); (4) better calibrated than
    one-hot (lower ECE averaged over the clean and noisy conditions, :func:`beats`). All four:
    "reproduced"; some: "partly"; none: "not"; fewer than :data:`MIN_SEEDS` seeds: "cannot
    judge". Not counted, a line each: M4 against one-hot, and the **classical teacher**, which
    tells whether the robustness is the circuit's or distillation's.

    >>> acc = {m: {"clean": [0.99] * 3, "noise-0.1": list(v)} for m, v in
    ...        (("one-hot", (0.5, 0.52, 0.51)), ("smoothing", (0.5, 0.5, 0.5)), ("quantum", (0.7, 0.72, 0.71)))}
    >>> ece = {m: {"clean": [0.02] * 3, "noise-0.1": [0.1] * 3} for m in acc}
    >>> summary = {"fashion_mnist": {"accuracy": acc, "ece": ece, "seeds": [0, 1, 2]}}
    >>> published_refining_verdict(summary, "fashion_mnist").verdict  # not better calibrated: partly
    'partly'
    """
    if dataset not in summary:
        raise ValueError(f"dataset must be one of the summary's {sorted(summary)}, got {dataset!r}")
    entry = summary[dataset]
    for key in ("accuracy", "ece", "seeds"):
        if key not in entry:
            raise ValueError(f"summary[{dataset!r}] must hold {key!r}; it holds {sorted(entry)}")
    seeds = list(entry["seeds"])
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"summary[{dataset!r}]: seeds {seeds} repeat; each seed must appear once")
    noisy = [c for c in PAPER_A_NOISY.get(dataset, []) if c in entry["accuracy"].get("one-hot", {})]
    if not noisy:
        raise ValueError(
            f"summary[{dataset!r}] holds none of the paper's noisy conditions {PAPER_A_NOISY.get(dataset)}"
        )
    where = f"summary[{dataset!r}]"
    acc = {m: _seed_means(entry["accuracy"], m, noisy, where) for m in ("one-hot", "smoothing", "quantum")}
    clean = {m: _seed_means(entry["accuracy"], m, ["clean"], where) for m in ("one-hot", "quantum")}
    ece = {m: _seed_means(entry["ece"], m, ["clean"] + noisy, where) for m in ("one-hot", "quantum")}
    if any(len(v) != len(seeds) for v in (*acc.values(), *clean.values(), *ece.values())):
        raise ValueError(f"{where}: every method must hold one value per seed ({len(seeds)} seeds)")
    numbers = {
        "seeds": len(seeds),
        **{f"{m} noisy accuracy": experiments.mean_std(v) for m, v in acc.items()},
        **{f"{m} clean accuracy": experiments.mean_std(v) for m, v in clean.items()},
        **{f"{m} ece": experiments.mean_std(v) for m, v in ece.items()},
    }
    if len(seeds) < MIN_SEEDS:
        return Verdict(
            "cannot judge",
            [f"only {len(seeds)} seed(s): at least {MIN_SEEDS} paired seeds are needed before a difference counts"],
            numbers,
        )
    reasons, wins = [f"noisy conditions (the paper's): {', '.join(noisy)}"], 0
    for baseline in ("one-hot", "smoothing"):
        won, gain, error = beats(acc["quantum"], acc[baseline], True)
        wins += won
        reasons.append(
            f"{'' if won else 'not '}more robust than {baseline}: mean noisy accuracy "
            f"{_spread(acc['quantum'])} against {_spread(acc[baseline])}, same-seed gain {gain:+.3f} +- {error:.3f}"
        )
    loss = clean["one-hot"] - clean["quantum"]
    competitive = bool(loss.mean() <= COMPETITIVE)
    wins += competitive
    reasons.append(
        f"{'' if competitive else 'not '}competitive on clean data: {_spread(clean['quantum'])} against "
        f"one-hot {_spread(clean['one-hot'])}, same-seed loss {loss.mean():+.3f} (allowed: {COMPETITIVE})"
    )
    won, gain, error = beats(ece["quantum"], ece["one-hot"], False)
    wins += won
    reasons.append(
        f"{'' if won else 'not '}better calibrated than one-hot: ECE over clean and noisy "
        f"{_spread(ece['quantum'])} against {_spread(ece['one-hot'])}, same-seed gain {gain:+.3f} +- {error:.3f}"
    )
    if "quantum-confident" in entry["accuracy"]:
        m4 = _seed_means(entry["accuracy"], "quantum-confident", noisy, where)
        won, gain, error = beats(m4, acc["one-hot"], True)
        reasons.append(
            f"(not counted) M4, confident images only: mean noisy accuracy {_spread(m4)}, "
            f"{'more' if won else 'not more'} robust than one-hot ({gain:+.3f} +- {error:.3f})"
        )
    if "classical-teacher" in entry["accuracy"]:
        teacher = _seed_means(entry["accuracy"], "classical-teacher", noisy, where)
        q_won, gain, error = beats(acc["quantum"], teacher, True)
        c_won = beats(teacher, acc["quantum"], True)[0]
        gained = beats(acc["quantum"], acc["one-hot"], True)[0]
        finding = (
            "the quantum labels are more robust than the classical teacher's: the circuit adds something"
            if q_won
            else "the classical teacher's labels are more robust: the circuit is not what helps"
            if c_won
            else "the classical teacher's labels do as well, within seed noise: the gain is "
            "distillation from an accurate teacher, not the quantum circuit"
            if gained
            else "the two do alike, within seed noise, and neither is a gain over one-hot to explain"
        )
        reasons.append(
            f"(not counted) classical teacher: mean noisy accuracy {_spread(teacher)}, quantum minus "
            f"classical {gain:+.3f} +- {error:.3f}: {finding}"
        )
    verdict = "reproduced" if wins == 4 else "partly" if wins else "not"
    return Verdict(verdict, reasons, numbers)


@validate_params(summary=RESULTS, dataset=TEXT)
def paper_a_table(summary: dict, dataset: str) -> list[dict]:
    """Paper A's table for ``dataset`` beside the stored numbers: one row per method and
    condition of the paper's table, ``{"method", "condition", "paper", "mean", "std", "seeds"}``,
    accuracies in % (``paper`` None where the paper gives no value, e.g. the control)."""
    from .. import paper_methods

    if dataset not in summary:
        raise ValueError(f"dataset must be one of the summary's {sorted(summary)}, got {dataset!r}")
    paper = paper_methods.PAPER_TABLES[dataset]
    condition_names = list(next(iter(paper.values())))
    rows = []
    for method in paper_methods.METHODS:
        values = summary[dataset]["accuracy"].get(method)
        if values is None:
            continue
        for c in condition_names:
            v = 100 * np.asarray(values[c], dtype=float)
            rows.append(
                {
                    "method": method,
                    "condition": c,
                    "paper": paper.get(method, {}).get(c),
                    "mean": experiments.mean_std(v)[0],
                    "std": experiments.mean_std(v)[1],
                    "seeds": len(v),
                }
            )
    return rows
