"""Checkers of the exercises of Part II, *Defending with quantum patches*
(book: ``book/defending_with_quantum_patches.ipynb``).

Each reference answer is the package function that the chapter teaches.
"""

from __future__ import annotations

from .. import metrics
from .cases import Outputs, case
from .checking import checker


@checker(
    "defence-asr-reduction",
    "relative_reduction(asr_before, asr_after)",
    level=1,
    cases=lambda: [case(0.898, 0.6845, returns="float"), case(0.5, 0.6, returns="float")],
)
def _asr_reduction(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``relative_reduction(before, after)``: (before - after) / before."""
    got = outputs[0]
    want = -metrics.relative_change(0.6845, 0.898)
    if abs(got - 0.2135) < 1e-6:
        return False, "that is the drop in percentage points; a relative reduction divides it by the starting ASR."
    if abs(got + 0.2135 / 0.898) < 1e-6:
        return False, "the sign is reversed: a lower ASR after the defence should give a positive reduction."
    if abs(got - 0.2135 / 0.6845) < 1e-6:
        return False, "divide by the ASR before the defence (0.898), not after."
    if abs(got - want) > 1e-6 or abs(outputs[1] + metrics.relative_change(0.6, 0.5)) > 1e-9:
        return False, "expected (0.898 - 0.6845) / 0.898 = 0.238, and -0.2 when the ASR rises from 0.5 to 0.6."
    return True, "the paper's CIFAR-10 headline is a 24% relative (21 point) drop in attack success rate."


def _most_robust_cases() -> list[dict]:
    def run(defence: str, seed: int, restart: list[float], fgsm: list[float]) -> dict:
        return {"defence": defence, "seed": seed, "robust_accuracy": {"PGD-restart": restart, "FGSM": fgsm}}

    runs = [
        run("a", 0, [0.30, 0.60], [0.0, 0.9]),
        run("a", 1, [0.30, 0.00], [0.0, 0.9]),
        run("b", 0, [0.25, 0.35], [0.9, 0.0]),
        run("b", 1, [0.25, 0.35], [0.9, 0.0]),
    ]
    return [case(runs, 0), case(runs, 1)]


@checker("defence-most-robust", "most_robust(runs, budget_index)", level=3, cases=_most_robust_cases)
def _most_robust(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``most_robust(runs, budget_index)``: the defence with the highest PGD-restart robust
    accuracy, mean over seeds."""
    got = (outputs[0], outputs[1])
    if got == ("b", "a"):
        return False, (
            "that is the least robust defence at each budget: robust accuracy is better when "
            "higher (or those are the FGSM results; the question asks about 'PGD-restart')."
        )
    if got == ("a", "a"):
        return False, (
            "at budget 1, 'a' has the single highest run (0.60) but its mean is 0.30 against "
            "'b''s 0.35: average over seeds first, at the budget index you were given."
        )
    if got == ("b", "b"):
        return False, "at budget 0, 'a' has mean robust accuracy 0.30 against 'b''s 0.25: index the budget given."
    if got != ("a", "b"):
        return False, f"expected 'a' at budget 0 and 'b' at budget 1, got {got[0]!r} and {got[1]!r}."
    return True, "highest mean robust accuracy at that budget; and check the spread before calling it a win."


def _training_cost_cases() -> list[dict]:
    runs = [
        {"defence": "none", "train_seconds": 2.0},
        {"defence": "none", "train_seconds": 4.0},
        {"defence": "PGD training", "train_seconds": 6.0},
        {"defence": "PGD training", "train_seconds": 12.0},
        {"defence": "quantum patches", "train_seconds": 3.0},
        {"defence": "quantum patches", "train_seconds": 3.0},
    ]
    return [case(runs)]


@checker("defence-training-cost", "cost_ratios(runs)", level=2, cases=_training_cost_cases)
def _training_cost(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``cost_ratios(runs)``: {defence: mean train_seconds / mean train_seconds of "none"}."""
    got = outputs[0]
    if not isinstance(got, dict) or set(got) != {"none", "PGD training", "quantum patches"}:
        return False, "return a dict with one entry per defence, including 'none' (ratio 1)."
    got = {k: float(v) for k, v in got.items()}
    if abs(got["PGD training"] - 9.0) < 1e-9:
        return False, "those are mean seconds; divide by the undefended mean (3 s) to get a ratio."
    if abs(got["PGD training"] - 2.0) < 1e-9:
        return False, "that is the extra time (ratio - 1); give the ratio itself, 1.0 for as fast as undefended."
    if abs(got["PGD training"] - 4.5) < 1e-9:
        return False, "divide by the mean of all undefended runs (3 s), not by one of them."
    want = {"none": 1.0, "PGD training": 3.0, "quantum patches": 1.0}
    if any(abs(got[k] - v) > 1e-9 for k, v in want.items()):
        return False, f"expected mean seconds divided by the undefended mean: {want}, got {got}."
    return True, "PGD training pays for its attack steps in every batch; the ratio is what a defence costs."
