"""qrobust_lite.defences and the quantum image classifier: each defence does what it says,
runs are seeded, the experiment's records add up, and bad arguments are named."""

import math

import pytest
import torch

from qrobust_lite import attacks
from qrobust_lite import defences as dfn
from qrobust_lite import quantum_patches as qp
from qrobust_lite.quantum_classifier import HybridImageClassifier, QuantumImageClassifier, QuanvolutionClassifier


@pytest.fixture(scope="module")
def model():
    return QuantumImageClassifier((3, 8, 8), pool=2, n_layers=1, n_classes=4, seed=0, device="default.qubit")


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(1)
    return torch.rand(8, 3, 8, 8, generator=gen), torch.randint(4, (8,), generator=gen)


def test_classifier_amplitude_encodes_pooled_pixels_into_enough_qubits(model):
    assert model.n_qubits == 6  # 3 x 4 x 4 = 48 pixels -> 64 amplitudes
    cifar = QuantumImageClassifier((3, 32, 32), pool=4, n_layers=1, device="default.qubit")
    mnist = QuantumImageClassifier((1, 28, 28), pool=2, n_layers=1, device="default.qubit")
    assert cifar.n_qubits == 8 and mnist.n_qubits == 8
    probs = model(torch.zeros(2, 3, 8, 8))  # an all-black image still encodes
    assert torch.allclose(probs.sum(dim=1), torch.ones(2, dtype=probs.dtype))
    assert torch.isfinite(probs).all()


def test_attacks_differentiate_through_the_circuit(model, batch):
    x, y = batch
    grad = attacks.input_gradient(model, x, y, loss="probs")
    assert grad.shape == x.shape and grad.abs().sum() > 0
    x_adv = attacks.pgd(model, x, y, 4 / 255, steps=3, loss="probs")
    lost = [attacks.classification_loss(model(v), y, "probs").item() for v in (x, x_adv)]
    assert lost[1] > lost[0]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"image_shape": (3, 32)}, "image_shape must be"),
        ({"image_shape": (3, 30, 30), "pool": 4}, "pool must be a positive integer dividing"),
        ({"image_shape": (3, 128, 128), "pool": 1}, "need 16 qubits; use a larger pool"),
    ],
)
def test_classifier_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QuantumImageClassifier(**kwargs)


def test_classifier_rejects_images_of_the_wrong_shape(model):
    with pytest.raises(ValueError, match=r"images must have shape \(N, 3, 8, 8\)"):
        model(torch.rand(2, 1, 8, 8))


@pytest.mark.parametrize("defence", dfn.DEFENCES)
def test_each_defence_changes_only_the_first_half_and_keeps_pixels_valid(defence, model, batch):
    x, y = batch
    before = x.clone()
    out = dfn.perturb_batch(defence, model, x, y, torch.Generator().manual_seed(0))
    assert torch.equal(x, before)  # input untouched
    assert torch.equal(out[4:], x[4:])
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(out[:4], x[:4]) == (defence == "none")


def test_defences_do_what_their_names_say(model, batch):
    x, y = batch
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    patched = dfn.perturb_batch("quantum patches", model, x, y, gen(), circuit_seeds=(7,), strength=0.3)
    assert torch.allclose(patched[:4], qp.quantum_patch(x[:4], seed=7, strength=0.3))
    adv = dfn.perturb_batch("PGD training", model, x, y, gen(), epsilon=0.05)
    assert (adv - x).abs().max() <= 0.05 + 1e-6
    big = torch.full((4000, 1, 2, 2), 0.5)
    noisy = dfn.perturb_batch("gaussian noise", model, big, torch.zeros(4000).long(), gen(), sigma=0.1, fraction=1.0)
    assert abs((noisy - big).std().item() - 0.1) < 0.005


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"defence": "mixup"}, r"defence must be one of \['none'"),
        ({"fraction": 1.5}, r"fraction must be a number in \[0, 1\]"),
        ({"sigma": -0.1}, "sigma must be a positive number"),
        ({"circuit_seeds": ()}, "circuit_seeds must be a list or tuple of at least 1 item"),
    ],
)
def test_perturb_batch_invalid_arguments(kwargs, match, model, batch):
    x, y = batch
    args = {"defence": "gaussian noise", **kwargs}
    with pytest.raises(ValueError, match=match):
        dfn.perturb_batch(args.pop("defence"), model, x, y, torch.Generator(), **args)


def test_training_is_seeded_and_lowers_the_loss(batch):
    x, y = batch
    weights = []
    for _ in range(2):
        m = QuantumImageClassifier((3, 8, 8), pool=2, n_layers=1, n_classes=4, seed=0, device="default.qubit")
        history = dfn.train_with_defence(m, x, y, "quantum patches", epochs=15, batch_size=8, lr=0.1, progress=False)
        weights.append(m.vqc.weights.detach().clone())
    assert torch.equal(weights[0], weights[1])
    assert history[-1] < history[0]


def test_training_rejects_bad_options_before_training(batch, model):
    x, y = batch
    with pytest.raises(ValueError, match="images and labels must have the same length"):
        dfn.train_with_defence(model, x, y[:3])
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        dfn.train_with_defence(model, x, y, epochs=0)
    with pytest.raises(ValueError, match="strength must be a number"):
        dfn.train_with_defence(model, x, y, "quantum patches", strength=2.0, progress=False)


@pytest.fixture(scope="module")
def small_experiment():
    return dfn.defence_experiment(
        "mnist",
        defences=("none", "quantum patches"),
        n_train=40,
        n_test=20,
        seeds=(0, 1),
        epochs=1,
        epsilons=(0.05, 0.2),
        n_layers=1,
        progress=False,
    )


def test_experiment_records_every_defence_seed_attack_and_budget(small_experiment):
    res = small_experiment
    assert [(r["defence"], r["seed"]) for r in res["runs"]] == [
        ("none", 0),
        ("none", 1),
        ("quantum patches", 0),
        ("quantum patches", 1),
    ]
    for run in res["runs"]:
        assert 0 <= run["clean_accuracy"] <= 1 and run["train_seconds"] > 0
        for attack in dfn.ATTACKS:
            assert len(run["asr"][attack]) == len(run["robust_accuracy"][attack]) == 2
            assert all(math.isnan(v) or 0 <= v <= 1 for v in run["asr"][attack])
    table = dfn.summarise(res)
    clean = [r["clean_accuracy"] for r in res["runs"] if r["defence"] == "none"]
    assert table["none"]["clean_accuracy"][0] == pytest.approx(sum(clean) / 2)
    text = dfn.format_table(res, "FGSM")
    assert text.startswith("asr under FGSM") and "13/255" in text and "quantum patches" in text
    assert max(len(line) for line in dfn.format_table(res, "PGD-restart", "common_base_asr").splitlines()) <= 78
    for run in res["runs"]:  # the stored masks say what the accuracies say
        assert dfn.correct_mask(run["clean_correct"]).double().mean().item() == pytest.approx(run["clean_accuracy"])
        for attack in dfn.ATTACKS:
            for k, text in enumerate(run["robust_correct"][attack]):
                assert dfn.correct_mask(text).double().mean().item() == pytest.approx(run["robust_accuracy"][attack][k])


def test_same_seed_same_experiment(small_experiment):
    again = dfn.defence_experiment(
        "mnist",
        defences=("none", "quantum patches"),
        n_train=40,
        n_test=20,
        seeds=(0, 1),
        epochs=1,
        epsilons=(0.05, 0.2),
        n_layers=1,
        progress=False,
    )
    strip = lambda res: [{k: v for k, v in r.items() if k != "train_seconds"} for r in res["runs"]]  # noqa: E731
    assert strip(again) == strip(small_experiment)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"dataset": "svhn"}, r"dataset must be one of \['cifar10'"),
        ({"defences": ("none", "dropout")}, r"defences(\[1\])? must be (one of|a list or tuple of at least 1)"),
        ({"defences": ()}, r"defences(\[1\])? must be (one of|a list or tuple of at least 1)"),
        ({"seeds": ()}, "seeds must be a list or tuple of at least 1 item"),
        ({"epsilons": (0.0, 0.1)}, r"epsilons\[0\] must be a number in \(0, 1\]"),
        ({"model": "cnn"}, r"model must be one of \['quantum', 'hybrid', 'quanvolution'\]"),
    ],
)
def test_experiment_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dfn.defence_experiment(**kwargs)


def test_format_table_rejects_an_unknown_attack(small_experiment):
    with pytest.raises(ValueError, match=r"attack must be one of \[.FGSM., .PGD., .PGD-restart.\]"):
        dfn.format_table(small_experiment, "CW")


def test_the_hybrid_feeds_standardised_angles_to_the_circuit_and_attacks_reach_its_front_end(batch):
    hybrid = HybridImageClassifier((3, 8, 8), n_layers=1, n_classes=4, seed=0, device="default.qubit")
    x, y = batch
    angles = hybrid.features(x)
    assert angles.shape == (8, 8) and hybrid.vqc.encoding == "angle"
    assert torch.allclose(angles.mean(dim=1), torch.zeros(8), atol=1e-5)  # standardised per image
    probs = hybrid(x)
    assert torch.allclose(probs.sum(dim=1), torch.ones(8, dtype=probs.dtype))
    attacks.classification_loss(probs, y, "probs").backward()
    assert hybrid.front[0].weight.grad.abs().sum() > 0 and hybrid.vqc.weights.grad.abs().sum() > 0
    assert attacks.input_gradient(hybrid, x, y, loss="probs").abs().sum() > 0
    same = HybridImageClassifier((3, 8, 8), n_layers=1, n_classes=4, seed=0, device="default.qubit")
    assert torch.equal(same.front[0].weight, hybrid.front[0].weight)  # the seed fixes the front end too
    odd = HybridImageClassifier((1, 30, 30), n_layers=1, n_classes=4, device="default.qubit")  # any size
    assert odd.features(torch.rand(2, 1, 30, 30)).shape == (2, 8)
    with pytest.raises(ValueError, match=r"image_shape must be a list or tuple of 3 item\(s\)"):
        HybridImageClassifier((3, 30))
    with pytest.raises(ValueError, match=r"images must have shape \(N, 3, 8, 8\)"):
        hybrid(torch.rand(2, 1, 8, 8))


def test_the_experiment_trains_the_model_it_is_asked_for():
    res = dfn.defence_experiment(
        "mnist",
        defences=("none",),
        n_train=40,
        n_test=20,
        seeds=(0,),
        epochs=1,
        epsilons=(0.1,),
        n_layers=1,
        progress=False,
        model="hybrid",
    )
    assert res["config"]["model"] == "hybrid" and [r["model"] for r in res["runs"]] == ["hybrid"]
    assert 0 <= res["runs"][0]["clean_accuracy"] <= 1


def test_the_co_author_patches_work_at_half_resolution_with_one_wire_per_image(batch):
    x, _ = batch
    gen = torch.Generator().manual_seed(0)
    out = qp.half_resolution_patch(x, seed=5, strength=1.0, generator=gen)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert torch.equal(out[..., 0::2, 0::2], out[..., 1::2, 1::2])  # constant on each 2x2 block
    half = torch.nn.functional.avg_pool2d(x, 2)
    channels = qp.minmax_scale(qp.rqc_patch_channels(x, seed=5, encoding="RXRY")).reshape(8, 3, 4, 4, 4)
    wire = torch.randint(4, (8,), generator=torch.Generator().manual_seed(0))
    for i in (0, 7):  # the recipe, image by image
        assert torch.allclose(out[i, :, ::2, ::2], half[i] * channels[i, :, wire[i]], atol=1e-6)
    plain = qp.half_resolution_patch(x, seed=5, strength=0.0)
    assert torch.allclose(plain[..., ::2, ::2], half, atol=1e-6)  # strength 0: only the blur
    with pytest.raises(ValueError, match=r"strength must be a number in \[0, 1\]"):
        qp.half_resolution_patch(x, strength=1.5)


def test_matched_gaussian_noise_has_the_patches_root_mean_square_change():
    x = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    sigma = dfn.matched_sigma(x, strength=0.5, circuit_seeds=(100, 101))
    changes = torch.cat([(qp.quantum_patch(x, seed=s, strength=0.5) - x).flatten() for s in (100, 101)])
    assert sigma == pytest.approx(changes.square().mean().sqrt().item(), rel=1e-5) and 0 < sigma < 0.5
    assert dfn.matched_sigma(x, strength=0.0) == 0.0
    with pytest.raises(ValueError, match="circuit_seeds must be a list or tuple of at least 1 item"):
        dfn.matched_sigma(x, circuit_seeds=())


def test_the_experiment_matches_gaussian_noise_to_the_patches_unless_told_otherwise():
    args = {
        "defences": ("none", "gaussian noise"),
        "n_train": 20,
        "n_test": 10,
        "seeds": (0,),
        "epochs": 1,
        "epsilons": (0.1,),
        "progress": False,
        "model": "quanvolution",
        "attack_names": ("FGSM",),
    }
    matched = dfn.defence_experiment("mnist", **args)["config"]["sigma"]
    train = dfn.RUN_DATA.of(dfn.DefenceRun("mnist", n_train=20, n_test=10))[0]
    assert matched == pytest.approx(dfn.matched_sigma(train.images), abs=1e-4)
    assert dfn.defence_experiment("mnist", sigma=0.05, **args)["config"]["sigma"] == 0.05


def test_common_base_compares_defences_on_the_images_every_model_gets_right():
    def run(defence, seed, clean, robust):
        return {"defence": defence, "seed": seed, "clean_correct": clean, "robust_correct": {"PGD": [robust]}}

    results = {
        "config": {"defences": ["none", "quantum patches"], "epsilons": [0.1]},
        "runs": [run("none", 0, "1110", "0100"), run("quantum patches", 0, "0111", "0110")],
    }
    base = dfn.common_base(results, "PGD")
    assert base["base"].tolist() == [2] and base["seeds"] == [0]  # images 1 and 2
    assert base["asr"]["none"].tolist() == [[0.5]] and base["asr"]["quantum patches"].tolist() == [[0.0]]
    with pytest.raises(ValueError, match=r"attack must be one of \['FGSM', 'PGD', 'PGD-restart'\]"):
        dfn.common_base(results, "CW")
    results["runs"].pop()
    with pytest.raises(ValueError, match="results lack the runs"):
        dfn.common_base(results, "PGD")
    with pytest.raises(ValueError, match="text must be a string of '0' and '1'"):
        dfn.correct_mask("01x")


def test_pgd_with_restarts_is_at_least_as_strong_as_one_run(batch):
    x, y = batch
    model = QuanvolutionClassifier((3, 8, 8), n_classes=4, width=4).eval()
    scores = dfn.evaluate_attacks(model, x, y, (2 / 255, 16 / 255), pgd_steps=3, restarts=2)
    assert set(scores["asr"]) == set(dfn.ATTACKS)
    for k, eps in enumerate((2 / 255, 16 / 255)):  # never weaker than its first run alone
        first = attacks.pgd(model, x, y, eps, steps=3, random_start=True, seed=0, loss="probs")
        with torch.no_grad():
            alone = (model(first).argmax(1) == y).double().mean().item()
        assert scores["robust_accuracy"]["PGD-restart"][k] <= alone + 1e-9
    only = dfn.evaluate_attacks(model, x, y, (0.1,), attack_names=("FGSM",))
    assert set(only["asr"]) == {"FGSM"}
    with pytest.raises(ValueError, match=r"attack_names(\[\d\])? must be"):
        dfn.evaluate_attacks(model, x, y, (0.1,), attack_names=("CW",))


def test_training_the_quanvolution_model_ignores_torch_s_global_generator():
    """Its dropout masks come from fit's seeded generator: whatever ran before (here, draws from
    the global generator) the same seed trains the same weights."""
    from qrobust_lite.quantum_classifier import QuanvolutionClassifier

    gen = torch.Generator().manual_seed(3)
    x, y = torch.rand(16, 3, 8, 8, generator=gen), torch.randint(10, (16,), generator=gen)
    trained = []
    for draws in (0, 1000):
        torch.rand(draws)
        model = QuanvolutionClassifier((3, 8, 8), width=4, seed=0)
        dfn.train_with_defence(model, x, y, "none", epochs=2, seed=0, progress=False)
        trained.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]))
    assert torch.equal(*trained)
