"""qrobust_lite.poisoning, spin_chain, unlearning: corruptions are exact, quantum data is the
true ground state, runs are seeded and cached by configuration, unlearning forgets."""

import json
import os

import numpy as np
import pennylane as qml
import pytest
import torch

from qrobust_lite import experiments as E
from qrobust_lite import poisoning as P
from qrobust_lite import spin_chain as sc
from qrobust_lite import unlearning as U
from qrobust_lite.networks import MLP, QNN


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.3, 0.5, 0.9, 1.0])
def test_exactly_an_alpha_share_flips_in_every_class(alpha):
    labels = torch.tensor([0] * 40 + [1] * 60)
    before = labels.clone()
    poisoned, flipped = P.flip_labels(labels, alpha, seed=3)
    assert torch.equal(labels, before)
    for c, n in ((0, 40), (1, 60)):
        assert int(flipped[labels == c].sum()) == round(alpha * n)
    assert torch.equal(poisoned[flipped], 1 - labels[flipped])
    assert torch.equal(poisoned[~flipped], labels[~flipped])


def test_multiclass_flips_move_to_another_class_and_are_seeded():
    labels = torch.arange(5).repeat(20)
    a, fa = P.flip_labels(labels, 0.4, n_classes=5, seed=1)
    b, fb = P.flip_labels(labels, 0.4, n_classes=5, seed=1)
    assert torch.equal(a, b) and torch.equal(fa, fb)
    assert (a[fa] != labels[fa]).all() and int(fa.sum()) == 40
    assert not torch.equal(fa, P.flip_labels(labels, 0.4, n_classes=5, seed=2)[1])


def test_feature_randomisation_replaces_a_balanced_share_with_unit_vectors():
    x = torch.rand(50, 8, dtype=torch.float64)
    y = torch.tensor([0] * 20 + [1] * 30)
    new, replaced = P.randomise_features(x, y, 0.2, seed=0)
    assert int(replaced[:20].sum()) == 4 and int(replaced[20:].sum()) == 6
    assert torch.allclose(new[replaced].norm(dim=1), torch.ones(10, dtype=torch.float64))
    assert torch.equal(new[~replaced], x[~replaced])


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: P.flip_labels(torch.tensor([0, 1]), 1.5), r"alpha must be a number in \[0, 1\]"),
        (lambda: P.flip_labels(torch.tensor([0, 1]), True), r"alpha must be a number in \[0, 1\]"),
        (lambda: P.flip_labels(torch.tensor([0, 2]), 0.1), r"labels must be class indices in 0..1"),
        (lambda: P.flip_labels(torch.tensor([[0, 1]]), 0.1), "labels must be a 1-D integer tensor"),
        (lambda: P.flip_labels(torch.tensor([0, 1]), 0.1, n_classes=1), "n_classes must be an integer in 2..1000"),
        (lambda: P.PoisoningRun(model="CNN"), r"model must be one of \['QNN', 'MLP'\]"),
        (
            lambda: P.PoisoningRun(dataset="cifar10"),
            r"dataset must be one of \['mnist', 'spin chain', 'spin chain \(authors\)'\]",
        ),
        (lambda: P.PoisoningRun(representation="complex"), "representation must be one of"),
        (lambda: P.PoisoningRun(representation="gauge-fixed"), r"is for the MLP on 'spin chain \(authors\)' only"),
        (lambda: P.PoisoningRun(dataset=P.AUTHORS), "has the authors' 82 training and 84 validation states"),
        (lambda: P.PoisoningRun(epochs=0), "epochs must be a positive integer"),
        (lambda: P.grid("huge"), r"scale must be one of \['smoke', 'default', 'full'\]"),
        (lambda: P.critical_alpha([0.0], [[1.0]]), r"alphas must be a list or tuple of at least 2 item"),
        (lambda: sc.phase_dataset(4, 5), "n_samples must be an even integer"),
        (lambda: sc.phase_dataset(4, 10, delta_range=(0.95, 2.0)), "must leave room on both sides"),
        (lambda: sc.ground_states(5, torch.tensor([0.5])), "n_qubits must be an even integer"),
        (lambda: sc.ground_states(4, torch.tensor([-2.0])), "deltas must be > -1"),
        (lambda: sc.ground_states(4, torch.tensor([0.5]), chunk=0), "chunk must be a positive integer"),
        (lambda: QNN(1), r"n_qubits must be an integer in 2..12"),
        (lambda: QNN(4, depth=0), "depth must be a positive integer"),
        (lambda: MLP(0), "n_features must be a positive integer"),
        (lambda: MLP(4, hidden=0), "hidden must be a list or tuple, got 0"),
        (lambda: MLP(4, hidden=(8, 0)), r"hidden\[1\] must be a positive integer, got 0"),
        (lambda: MLP(4, hidden=(-5,)), r"hidden\[0\] must be a positive integer, got -5"),
        (lambda: MLP(4, hidden=16), "hidden must be a list or tuple, got 16"),
    ],
)
def test_invalid_arguments_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("delta", [0.3, 0.95, 1.7])
def test_ground_states_are_the_lowest_eigenvectors_of_the_pennylane_hamiltonian(delta):
    n = 6
    state = sc.ground_states(n, torch.tensor([delta]))[0].numpy()
    h = qml.matrix(sc.xxz_hamiltonian(n, delta), wire_order=range(n))
    values, vectors = np.linalg.eigh(h)
    assert values[1] - values[0] > 1e-6  # a unique ground state
    assert abs(abs(np.vdot(vectors[:, 0], state)) - 1) < 1e-8
    assert abs(np.real(state @ h @ state) - values[0]) < 1e-8


def test_diagonalising_in_chunks_changes_no_ground_state():
    deltas = torch.linspace(-0.9, 3.0, 50, dtype=torch.float64)
    whole = sc.ground_states(8, deltas, chunk=len(deltas))
    for chunk in (1, 7, 64):
        assert torch.equal(sc.ground_states(8, deltas, chunk=chunk), whole)


def test_phase_dataset_is_balanced_seeded_and_labelled_by_the_phase():
    states, labels, deltas = sc.phase_dataset(4, 20, seed=1)
    assert int(labels.sum()) == 10
    assert torch.equal(labels, (deltas > 1).long())
    assert ((deltas - 1).abs() >= 0.1 - 1e-12).all()
    again = sc.phase_dataset(4, 20, seed=1)
    assert torch.equal(states, again[0])


def test_qnn_matches_its_pennylane_qnode_and_mlp_outputs_probabilities():
    qnn = QNN(3, depth=2, seed=0)
    with torch.no_grad():
        qnn.weights.normal_(0, 1.0, generator=torch.Generator().manual_seed(0))
    x = torch.rand(4, 8, dtype=torch.float64)
    reference = torch.sigmoid(5 * torch.stack([qnn.qnode(xi, qnn.weights) for xi in x]))
    assert torch.allclose(qnn(x), reference, atol=1e-5)
    p = MLP(8)(x)
    assert p.shape == (4,) and ((p > 0) & (p < 1)).all()


def test_run_key_covers_every_field_and_the_data_loaded(monkeypatch, tmp_path):
    base = P.PoisoningRun(dataset="spin chain", n_train=20, n_val=10, spin_qubits=4)
    for change in (
        {"alpha": 0.1},
        {"seed": 1},
        {"epochs": 41},
        {"lr": 0.01},
        {"model": "MLP"},
        {"depth": 5},
        {"data_root": str(tmp_path)},
    ):
        assert E.config_key(P.PoisoningRun(**{**base.__dict__, **change})) != E.config_key(base)
    assert P.poisoning_key(P.PoisoningRun(**base.__dict__)) == P.poisoning_key(base)
    # other data behind the same config (another $QROBUST_DATA): another key, and other data loaded
    real = P.mnist_pair
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    monkeypatch.setattr(
        P,
        "mnist_pair",
        lambda *a, **k: {
            name: t + (os.environ["QROBUST_DATA"] == str(tmp_path / "b")) for name, t in real(*a, **k).items()
        },
    )
    config = P.PoisoningRun(n_train=20, n_val=10)
    monkeypatch.setenv("QROBUST_DATA", str(tmp_path / "a"))
    key_a, x_a = P.poisoning_key(config), P.load_pair(config)["x_train"]
    monkeypatch.setenv("QROBUST_DATA", str(tmp_path / "b"))
    assert P.poisoning_key(config) != key_a and not torch.equal(P.load_pair(config)["x_train"], x_a)


@pytest.fixture(scope="module")
def tiny_configs():
    return [
        P.PoisoningRun(
            dataset="spin chain", model=m, alpha=a, seed=0, epochs=2, n_train=40, n_val=20, spin_qubits=4, depth=1
        )
        for m in ("MLP", "QNN")
        for a in (0.0, 0.5)
    ]


def test_same_seed_same_result(tiny_configs):
    strip = lambda r: {k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
    assert strip(P.run(tiny_configs[1])) == strip(P.run(tiny_configs[1]))


def test_sweep_caches_by_configuration_and_a_change_misses(tmp_path, tiny_configs):
    cache = E.ResultCache(tmp_path)

    def sweep(configs, n_jobs):
        return E.run_grid(configs, P.run, key=P.poisoning_key, cache=cache, n_jobs=n_jobs, progress=False)

    first = sweep(tiny_configs, 2)
    assert (cache.hits, cache.misses) == (0, 4)
    assert [r["alpha"] for r in first] == [0.0, 0.5, 0.0, 0.5]
    again = sweep(tiny_configs, 1)
    assert (cache.hits, cache.misses) == (4, 4)
    assert json.dumps(again) == json.dumps(first)  # read back, not re-run
    sweep([P.PoisoningRun(**{**tiny_configs[0].__dict__, "epochs": 3})], 1)
    assert (cache.hits, cache.misses) == (4, 5)
    for r in first:
        assert 0 <= r["train_accuracy"] <= 1 and 0 <= r["val_accuracy"] <= 1


def test_critical_alpha_finds_the_steepest_drop_with_its_spread():
    alphas = [0.0, 0.1, 0.2, 0.3, 0.4]
    same = np.array([[1.0, 0.98, 0.95, 0.5, 0.45]] * 3)
    assert P.critical_alpha(alphas, same) == (pytest.approx(0.25), 0.0)
    mixed = np.array([[1.0, 0.98, 0.95, 0.5, 0.45], [1.0, 0.5, 0.45, 0.44, 0.43], [1.0, 0.98, 0.95, 0.5, 0.45]])
    location, spread = P.critical_alpha(alphas, mixed)
    assert location == pytest.approx(0.25) and spread > 0


@pytest.fixture(scope="module")
def planted():
    """An MLP that has memorised 12 flipped labels of 60 separable points."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(60, 4, generator=gen, dtype=torch.float64)
    y = (x[:, 0] > 0).long()
    y_bad, flipped = P.flip_labels(y, 0.2, seed=0)
    model = MLP(4, seed=0)
    P.train_binary(model, x, y_bad, epochs=400, lr=0.02, batch_size=60)
    x_val = torch.randn(40, 4, generator=gen, dtype=torch.float64)
    sets = {
        "retain": (x[~flipped], y_bad[~flipped]),
        "forget": (x[flipped], y_bad[flipped]),
        "val": (x_val, (x_val[:, 0] > 0).long()),
    }
    return model, sets


@pytest.mark.parametrize("method", U.METHODS)
def test_each_unlearning_method_lowers_forget_accuracy_on_a_planted_case(planted, method):
    model, sets = planted
    before = U.evaluate(model, {"forget": sets["forget"]})["forget"]
    assert before > 0.9  # the poison was memorised
    weights = [p.detach().clone() for p in model.parameters()]
    unlearned, history = U.unlearn(method, model, sets, epochs=60, lr=0.02, batch_size=48, fresh_model=MLP(4, seed=1))
    assert history[-1]["forget"] < before - 0.3
    assert [h["epoch"] for h in history] == list(range(61))
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))  # original kept
    assert U.membership_inference(unlearned, sets["retain"], sets["forget"]) < U.membership_inference(
        model, sets["retain"], sets["forget"]
    )


def test_epochs_to_target_and_membership_on_hand_cases():
    history = [
        {"epoch": 0, "seconds": 0.0, "val": 0.5},
        {"epoch": 1, "seconds": 0.4, "val": 0.8},
        {"epoch": 2, "seconds": 0.9, "val": 0.95},
    ]
    assert U.epochs_to_target(history, 0.9) == (2, 0.9)
    assert U.epochs_to_target(history, 0.99) is None

    class Fixed(torch.nn.Module):
        def forward(self, x):
            return x[:, 0]

    members = (torch.tensor([[0.9], [0.8]], dtype=torch.float64), torch.tensor([1, 1]))
    queries = (torch.tensor([[0.95], [0.1], [0.85]], dtype=torch.float64), torch.tensor([1, 1, 1]))
    # member losses -log 0.9, -log 0.8 (mean 0.164): 0.95 and 0.85 fall below, 0.1 does not
    assert U.membership_inference(Fixed(), members, queries) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"method": "forget-me"}, r"method must be one of \['retrain'"),
        ({"method": "retrain"}, "fresh_model is required"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"weight": -1}, "weight must be a number >= 0"),
    ],
)
def test_unlearn_invalid_arguments(planted, kwargs, match):
    model, sets = planted
    args = {"method": "fine-tune", **kwargs}
    with pytest.raises(ValueError, match=match):
        U.unlearn(args.pop("method"), model, sets, **args)


def test_unlearn_requires_the_three_sets(planted):
    model, sets = planted
    with pytest.raises(ValueError, match=r"missing \['val'\]"):
        U.unlearn("fine-tune", model, {"retain": sets["retain"], "forget": sets["forget"]})


def test_parallel_sweep_equals_running_one_at_a_time(tiny_configs):
    strip = lambda rs: json.dumps([{k: v for k, v in r.items() if k != "seconds"} for r in rs])  # noqa: E731
    parallel = E.run_grid(tiny_configs * 2, P.run, n_jobs=2, progress=False)
    one_by_one = E.run_grid(tiny_configs * 2, P.run, n_jobs=1, progress=False)
    assert strip(parallel) == strip(one_by_one)
