"""Checkers of the exercises of Part III, *Quantum machine unlearning*
(book: ``book/quantum_machine_unlearning.ipynb``).

Each reference answer is the package function that the chapter teaches.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import unlearning
from .cases import Outputs, arguments, case, tensor
from .checking import checker


def _bernoulli_kl_cases() -> list[dict]:
    p = torch.tensor([0.9, 0.2, 0.5], dtype=torch.float64)
    q = torch.tensor([0.6, 0.3, 0.5], dtype=torch.float64)
    return [case(tensor(p), tensor(q), returns="float"), case(tensor(q), tensor(q), returns="float")]


@checker("unlearning-bernoulli-kl", "bernoulli_kl(p, q)", level=2, cases=_bernoulli_kl_cases)
def _bernoulli_kl(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``bernoulli_kl(p, q)``: mean over samples of KL(Bernoulli(p) || Bernoulli(q))."""
    p, q = arguments(cases[0])
    want = unlearning.bernoulli_kl(p, q).item()
    got = outputs[0]
    if abs(got - (q * (q / p).log() + (1 - q) * ((1 - q) / (1 - p)).log()).mean().item()) < 1e-9:
        return False, "that is KL(q || p): KL is not symmetric; the expectation is over p, the original model."
    if abs(got - (p * (p / q).log()).mean().item()) < 1e-9:
        return False, "only the y = 1 term: a Bernoulli KL also has (1 - p) log((1 - p) / (1 - q))."
    if abs(got - want * 3) < 1e-9:
        return False, "take the mean over samples, not the sum."
    if abs(got - want) > 1e-9:
        return False, f"expected {want:.5f} for p = {p.tolist()}, q = {q.tolist()}, got {got:.5f}."
    if abs(outputs[1]) > 1e-12:
        return False, "KL of a distribution with itself must be 0."
    return True, "zero when the outputs agree, growing as the unlearned model moves away on the forget set."


def _epochs_to_reach_cases() -> list[dict]:
    history = [{"epoch": e, "seconds": 2.0 * e, "val": v} for e, v in enumerate([0.70, 0.90, 0.85, 0.95, 0.97])]
    return [case(history, target) for target in (0.9, 0.99, 0.5)]


@checker("unlearning-epochs-to-target", "epochs_to_reach(history, target)", level=1, cases=_epochs_to_reach_cases)
def _epochs_to_reach(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``epochs_to_reach(history, target)``: first epoch with val >= target, None if never."""
    history, _ = arguments(cases[0])
    got = outputs[0]
    want, _ = unlearning.epochs_to_target(history, 0.9)
    if got == 3:
        return False, "0.90 at epoch 1 already reaches a target of 0.9: use >=, not >."
    if got == 4:
        return False, "that is the best epoch; the cost is the first epoch that reaches the target."
    if got != want:
        return False, f"expected epoch {want} for target 0.9, got {got!r}."
    never = outputs[1]
    if never is not None:
        return False, f"no epoch reaches 0.99, so return None; got {never!r}."
    if outputs[2] != 0:
        return False, "a model that already meets the target costs 0 epochs."
    return True, "the first epoch at the target; None says the method never got there."


def _membership_rate_cases() -> list[dict]:
    members = np.array([0.1, 0.2, 0.3, 1.4])  # mean 0.5, median 0.25
    queries = np.array([0.05, 0.4, 0.5, 0.9, 2.0])
    return [case(members, queries, returns="float")]


@checker(
    "unlearning-membership-rate", "membership_rate(member_losses, query_losses)", level=2, cases=_membership_rate_cases
)
def _membership_rate(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``membership_rate(member_losses, query_losses)``: share of queries with loss <= mean member loss."""
    members, queries = arguments(cases[0])
    got = outputs[0]
    want = unlearning.membership_rate(members, queries)
    if abs(got - 0.2) < 1e-9:
        return False, "that uses the median member loss (0.25); the threshold here is the mean (0.5)."
    if abs(got - 0.4) < 1e-9:
        return False, "a loss equal to the threshold counts as a member: use <=."
    if abs(got - want) > 1e-9:
        return False, f"expected 3 of 5 queries at or below the mean member loss 0.5 = 0.6, got {got:.3f}."
    return True, "low loss looks like training data: the attacker needs nothing but the model's losses."
