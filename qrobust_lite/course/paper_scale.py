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

from .. import poisoning, validation

#: Experiment -> (the folder under results/, the JSON file, the command that makes it).
RUNS = {
    "poisoning, MNIST": ("poisoning-full-mnist", "poisoning.json",
                         "qrobust-lite run poisoning --scale full --datasets mnist"),
    "poisoning, spin chain": ("poisoning-full-spin", "poisoning.json",
                              "qrobust-lite run poisoning --scale full --datasets spin"),
    "unlearning": ("unlearning-full", "unlearning.json", "qrobust-lite run unlearning --scale full"),
    "label refining": ("label-refining-full", "label_refining.json",
                       "qrobust-lite run label-refining --scale full"),
    "quantum patches": ("quantum-patches-full", "quantum_patches.json",
                        "qrobust-lite run quantum-patches --scale full"),
}
#: The noise level at which the memorisation claim is read (the unlearning paper's alpha).
ALPHA = 0.3
#: A network "memorises" when it reproduces at least this share of the flipped labels at :data:`ALPHA`.
MEMORISES = 0.8
#: A network "resists" when it reproduces at most this share of them.
RESISTS = 0.2


def load(folder: str | Path) -> dict[str, dict | None]:
    """Every stored run of :data:`RUNS` under ``folder`` (the repository's ``results/``):
    ``{experiment: its JSON, or None where it has not been run}``."""
    root = validation.folder(str(folder), "folder")
    out = {}
    for name, (sub, file, _) in RUNS.items():
        path = Path(root) / sub / file
        out[name] = json.loads(path.read_text()) if path.exists() else None
    return out


@dataclass(frozen=True)
class Verdict:
    """``verdict``: "reproduced", "partly" or "not"; ``reasons``: one line per test made;
    ``numbers``: what the reasons quote (mean and seed spread)."""

    verdict: str
    reasons: list[str] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)


def _at_alpha(runs: list[dict], dataset: str, model: str, key: str, alpha: float) -> np.ndarray:
    values = [r[key] for r in runs if (r["dataset"], r["model"], r["poison"]) == (dataset, model, "label flip")
              and abs(r["alpha"] - alpha) < 1e-9]
    if not values:
        raise ValueError(f"dataset {dataset!r} and alpha {alpha!r}: runs hold no label-flip run of {model} "
                         f"there; the runs have datasets {sorted({r['dataset'] for r in runs})}")
    return np.asarray(values, dtype=float)


def memorisation_verdict(runs: list[dict], dataset: str, alpha: float = ALPHA) -> Verdict:
    """Paper C's first claim on one dataset: under label flips the MLP memorises (reproduces at
    least :data:`MEMORISES` of the flipped labels at ``alpha``) while the QNN resists (at most
    :data:`RESISTS`). Both: "reproduced"; one: "partly"; neither: "not". The QNN's validation
    accuracy over alpha, and where it drops (:func:`~qrobust_lite.poisoning.critical_alpha`),
    are reported with it."""
    validation.share(alpha, "alpha")
    mlp = _at_alpha(runs, dataset, "MLP", "memorised", alpha)
    qnn = _at_alpha(runs, dataset, "QNN", "memorised", alpha)
    numbers = {"MLP memorised": (mlp.mean(), mlp.std()), "QNN memorised": (qnn.mean(), qnn.std()),
               "seeds": len(mlp)}
    reasons = [f"MLP reproduces {mlp.mean():.3f} +- {mlp.std():.3f} of the flipped labels at alpha {alpha} "
               f"({'memorises' if mlp.mean() >= MEMORISES else 'does not memorise'}: threshold {MEMORISES})",
               f"QNN reproduces {qnn.mean():.3f} +- {qnn.std():.3f} "
               f"({'resists' if qnn.mean() <= RESISTS else 'does not resist'}: threshold {RESISTS})"]
    curves = poisoning.curves([r for r in runs if r["dataset"] == dataset and r["poison"] == "label flip"])
    alphas, values = curves[(dataset, "QNN", "label flip")]
    if len(alphas) > 1:
        location, spread = poisoning.critical_alpha(alphas, values)
        numbers["QNN critical alpha"] = (location, spread)
        reasons.append("the QNN's validation accuracy never falls over alpha" if np.isnan(location) else
                       f"the QNN's validation accuracy drops most steeply at alpha {location:.2f} +- {spread:.2f}")
    passed = int(mlp.mean() >= MEMORISES) + int(qnn.mean() <= RESISTS)
    return Verdict(("not", "partly", "reproduced")[passed], reasons, numbers)
