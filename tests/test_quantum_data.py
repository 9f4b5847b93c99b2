"""Part III on the authors' quantum data: their design, the three ways the MLP is shown a state,
the QNN's blindness to a global phase, and the verdict per representation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pennylane as qml
import pytest
import torch

from qrobust_lite import poisoning as P
from qrobust_lite import spin_chain as sc
from qrobust_lite.course import paper_scale
from qrobust_lite.networks import QNN

ROOT = Path(__file__).resolve().parents[1]


def test_the_authors_design_has_their_split_on_either_side_of_the_gap():
    pair = sc.authors_pair(4)
    assert pair["x_train"].shape == (82, 16) and pair["x_val"].shape == (84, 16)
    for split, n in (("train", 41), ("val", 42)):
        y, deltas = pair[f"y_{split}"], pair[f"deltas_{split}"]
        assert int((y == 0).sum()) == int((y == 1).sum()) == n
        assert bool((deltas[y == 0] < 0.97).all() and (deltas[y == 1] > 1.01).all())  # the gap holds Delta = 1
    # alternating grid points: no state is in both splits
    assert not set(pair["deltas_train"].tolist()) & set(pair["deltas_val"].tolist())
    assert torch.allclose(pair["x_train"].norm(dim=1), torch.ones(82, dtype=torch.float64))


def test_lapack_returns_the_ground_state_of_the_real_hamiltonian_real():
    """What an eigensolver leaves for this Hamiltonian: a real vector (a sign), not a phase."""
    h = qml.matrix(sc.xxz_hamiltonian(6, 0.7), wire_order=range(6))
    assert h.dtype == np.complex128
    ground = np.linalg.eigh(h)[1][:, 0]
    assert np.abs(ground.imag).max() == 0.0


def test_a_global_phase_changes_the_mlp_input_and_not_the_state():
    psi = sc.authors_pair(4)["x_train"][:5]
    phased = sc.global_phase(psi, seed=3)
    assert torch.equal(phased, sc.global_phase(psi, seed=3))  # seeded
    overlap = (psi.to(torch.complex128).conj() * phased).sum(dim=1).abs()
    assert torch.allclose(overlap, torch.ones(5, dtype=torch.float64))  # the same physical states
    assert (sc.represent(psi, "eigensolver-phase", 3) - sc.represent(psi, "real")).norm(dim=1).min() > 1e-3
    assert torch.allclose(sc.fix_gauge(phased), sc.fix_gauge(psi), atol=1e-12)  # the gauge undoes it


@pytest.mark.parametrize("representation", ["real", "gauge-fixed"])
def test_real_representations_have_a_zero_imaginary_half(representation):
    psi = sc.authors_pair(4)["x_train"]
    features = sc.represent(-psi, representation)
    assert features.shape == (82, 32) and torch.count_nonzero(features[:, 16:]) == 0
    if representation == "gauge-fixed":  # the sign is fixed: -psi and psi give one input
        assert torch.equal(features, sc.represent(psi, "gauge-fixed"))


def test_the_gauge_picks_the_first_of_tied_amplitudes():
    tied = torch.tensor([[0.5, -0.5, 0.5, 0.5]], dtype=torch.float64) * (1 + torch.tensor([0, 1e-13, 0, 0]))
    assert sc.fix_gauge(tied)[0, 0].real > 0


def test_the_qnn_is_blind_to_a_global_phase():
    qnn = QNN(4, depth=2)
    with torch.no_grad():
        qnn.weights.uniform_(0, 2 * np.pi)
    psi = sc.authors_pair(4)["x_train"][:3]
    phased = sc.global_phase(psi, seed=1)
    for real, complex_ in zip(psi, phased):
        a = qnn.qnode(real.to(torch.complex128), qnn.weights).item()
        b = qnn.qnode(complex_, qnn.weights).item()
        assert abs(a) > 1e-3 and abs(a - b) < 1e-12


def test_the_authors_grid_runs_one_mlp_per_representation_and_shows_each_its_input():
    configs = P.grid("smoke", datasets=[P.AUTHORS], alphas=[0.3])
    assert {(c.model, c.representation) for c in configs} == {("QNN", "real")} | {
        ("MLP", r) for r in sc.REPRESENTATIONS
    }
    mlp = next(c for c in configs if c.model == "MLP" and c.representation == "eigensolver-phase")
    qnn = next(c for c in configs if c.model == "QNN")
    assert (mlp.epochs, mlp.lr, mlp.batch_size, qnn.depth) == (5, 0.01, 32, 1)
    pair = P.load_pair(mlp)
    assert P.model_inputs(mlp, pair)["x_train"].shape == (82, 32)
    assert P.model_inputs(qnn, pair)["x_val"].shape == (84, 16)
    result = P.run(mlp)
    assert result["representation"] == "eigensolver-phase" and 0 <= result["memorised"] <= 1


def _runs(mlp_memorised: dict[str, float], qnn_memorised: float = 0.05) -> list[dict]:
    runs = []
    for seed in range(3):
        for alpha in (0.0, 0.3, 0.6):
            base = {"dataset": P.AUTHORS, "poison": "label flip", "alpha": alpha, "seed": seed, "train_accuracy": 0.9}
            runs.append(
                {
                    **base,
                    "model": "QNN",
                    "representation": "real",
                    "memorised": qnn_memorised,
                    "val_accuracy": 0.95 - alpha,
                }
            )
            runs += [
                {**base, "model": "MLP", "representation": r, "memorised": m, "val_accuracy": 0.9 - alpha}
                for r, m in mlp_memorised.items()
            ]
    return runs


def test_the_verdict_per_representation_and_the_finding_follow_the_numbers():
    runs = _runs({"real": 0.05, "gauge-fixed": 0.02, "eigensolver-phase": 0.9})
    verdicts = paper_scale.representation_verdicts(runs)
    assert {r: v.verdict for r, v in verdicts.items()} == {
        "real": "partly",
        "gauge-fixed": "partly",
        "eigensolver-phase": "reproduced",
    }
    finding = paper_scale.representation_finding(verdicts)
    assert finding.startswith("The MLP memorises only when it reads eigensolver-phase states (0.900")
    every = paper_scale.representation_verdicts(_runs(dict.fromkeys(sc.REPRESENTATIONS, 0.9)))
    assert "under every representation" in paper_scale.representation_finding(every)
    none = paper_scale.representation_verdicts(_runs(dict.fromkeys(sc.REPRESENTATIONS, 0.1)))
    assert "under no representation" in paper_scale.representation_finding(none)


def test_curves_keep_the_mlps_representations_apart():
    runs = _runs({"real": 0.05, "eigensolver-phase": 0.9})
    keys = set(P.curves(runs, "memorised"))
    assert {k[1] for k in keys} == {"QNN", "MLP (real)", "MLP (eigensolver-phase)"}


def test_the_stored_authors_runs_are_judged_per_representation():
    stored = json.loads((ROOT / "results" / "poisoning-full-spin-authors" / "poisoning.json").read_text())
    runs = stored["runs"]
    assert {r["representation"] for r in runs if r["model"] == "MLP"} == set(sc.REPRESENTATIONS)
    assert {r["seed"] for r in runs} == {0, 1, 2, 3, 4} and len({r["alpha"] for r in runs}) == 10
    assert {r["spin_qubits"] for r in runs} == {12}
    verdicts = paper_scale.representation_verdicts(runs)
    assert all(v.numbers["seeds"] == 5 for v in verdicts.values())
    assert paper_scale.representation_finding(verdicts).startswith("The MLP ")


def test_the_stored_unlearning_on_the_authors_data_is_judged_per_representation():
    stored = json.loads((ROOT / "results" / "unlearning-full-spin-authors" / "unlearning.json").read_text())
    runs = stored["results"]["runs"]
    assert {r["representation"] for r in runs if r["model"] == "MLP"} == set(sc.REPRESENTATIONS)
    verdicts = paper_scale.representation_unlearning_verdicts(runs)
    assert set(verdicts) == set(sc.REPRESENTATIONS)
    assert all(v.numbers["seeds"] == 5 and v.verdict in ("reproduced", "partly", "not") for v in verdicts.values())
