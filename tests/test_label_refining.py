"""Part I: soft labels, calibration metrics, corruptions, CNN training, the refining pipeline."""

import pytest
import torch

from qrobust_lite import calibration as cal
from qrobust_lite import corruptions as cor
from qrobust_lite import label_refining as lr
from qrobust_lite import metrics
from qrobust_lite import soft_labels as sl
from qrobust_lite.cnn import SmallCNN
from qrobust_lite.training import predict_proba, train_classifier

LABELS = torch.tensor([0, 2, 1, 2])


# --- soft labels ---------------------------------------------------------------------------


def test_soft_labels_are_probability_vectors():
    q = torch.softmax(torch.randn(4, 3, dtype=torch.float64), 1)
    for targets in (
        sl.one_hot(LABELS, 3),
        sl.smooth_labels(LABELS, 3, 0.1),
        sl.refine_labels(q, LABELS, temperature=0.7, mix=0.4),
    ):
        assert (targets >= 0).all()
        assert torch.allclose(targets.sum(1).double(), torch.ones(4, dtype=torch.float64))


def test_mixing_weight_zero_gives_back_one_hot_and_one_gives_the_circuit():
    q = torch.softmax(torch.randn(4, 3, dtype=torch.float64), 1)
    assert torch.equal(sl.refine_labels(q, LABELS, mix=0.0), sl.one_hot(LABELS, 3).double())
    assert torch.allclose(sl.refine_labels(q, LABELS, temperature=1.0, mix=1.0), q)


def test_smoothing_values_and_temperature_limits():
    assert torch.allclose(sl.smooth_labels(torch.tensor([1]), 4, 0.2), torch.tensor([[0.05, 0.85, 0.05, 0.05]]))
    q = torch.tensor([[0.6, 0.3, 0.1]])
    assert sl.sharpen(q, 0.05)[0, 0] > 0.999
    assert torch.allclose(sl.sharpen(q, 1000.0), torch.full((1, 3), 1 / 3), atol=1e-3)


def test_soft_cross_entropy_equals_cross_entropy_on_one_hot_targets():
    logits = torch.randn(6, 5)
    labels = torch.tensor([0, 4, 2, 2, 1, 3])
    assert torch.allclose(
        sl.soft_cross_entropy(logits, sl.one_hot(labels, 5)), torch.nn.functional.cross_entropy(logits, labels)
    )


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: sl.one_hot(torch.tensor([0, 3]), 3), r"labels must be class indices in 0..2"),
        (lambda: sl.one_hot(torch.tensor([0.5]), 3), "labels must be a 1-D integer tensor"),
        (lambda: sl.one_hot(LABELS, 1), "n_classes must be an integer in 2..1000"),
        (lambda: sl.smooth_labels(LABELS, 3, 1.5), r"smoothing must be a number in \[0, 1\]"),
        (lambda: sl.sharpen(torch.tensor([[0.5, 0.5]]), 0), "temperature must be a positive number"),
        (lambda: sl.sharpen(torch.tensor([[0.5, 0.6]]), 1.0), "rows must be probability vectors"),
        (lambda: sl.refine_labels(torch.tensor([[0.5, 0.5]]), torch.tensor([0]), mix=-0.1), "mix must be"),
        (
            lambda: sl.refine_labels(torch.tensor([[0.5, 0.5]]), torch.tensor([0, 1])),
            "quantum_probs and labels must have the same length",
        ),
        (lambda: sl.soft_cross_entropy(torch.randn(2, 3), torch.rand(2, 4)), "must both have shape"),
    ],
)
def test_invalid_soft_label_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- calibration (the scores are in tests/test_metrics.py) -----------------------------


def test_fit_temperature_recovers_a_known_temperature():
    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(4000, 5, generator=g)
    labels = torch.multinomial(torch.softmax(logits / 2.0, 1), 1, generator=g).squeeze(1)
    assert cal.fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.1)


# --- corruptions ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gaussian_noise", "salt_and_pepper"])
def test_noise_severity_is_monotone_and_stays_in_pixel_range(kind):
    from qrobust_lite import data

    images = data.load("mnist", "test", 50, verbose=False).images
    distances = []
    for severity in cor.SEVERITIES:
        out = cor.corrupt(images, kind, severity, seed=1)
        assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
        distances.append((out - images).abs().mean().item())
    assert distances[0] == 0.0
    assert all(a < b for a, b in zip(distances, distances[1:]))


def orientation_degrees(image):
    """Orientation of a bar from second image moments, counter-clockwise, in degrees."""
    h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    m = image.double() / image.sum()
    x0, y0 = (m * xs).sum(), (m * ys).sum()
    mu20, mu02 = (m * (xs - x0) ** 2).sum(), (m * (ys - y0) ** 2).sum()
    mu11 = (m * (xs - x0) * (ys - y0)).sum()
    return -torch.rad2deg(0.5 * torch.atan2(2 * mu11, mu20 - mu02)).item()  # image y points down


def test_rotation_severity_turns_a_bar_by_15_degrees_per_level_and_stays_in_range():
    bar = torch.zeros(1, 1, 28, 28)
    bar[0, 0, 13:15, 4:24] = 1.0  # horizontal bar through the centre
    angles = []
    for severity in cor.SEVERITIES:
        out = cor.rotation(bar, severity)
        assert out.min() >= 0 and out.max() <= 1
        angles.append(orientation_degrees(out[0, 0]))
    assert angles == pytest.approx([15.0 * s for s in cor.SEVERITIES], abs=3.0)


def test_corruptions_are_seeded():
    images = torch.rand(4, 1, 28, 28)
    for kind in ("gaussian_noise", "salt_and_pepper"):
        assert torch.equal(cor.corrupt(images, kind, 3, seed=5), cor.corrupt(images, kind, 3, seed=5))
        assert not torch.equal(cor.corrupt(images, kind, 3, seed=5), cor.corrupt(images, kind, 3, seed=6))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: cor.corrupt(torch.rand(2, 1, 4, 4), "blur", 1), "kind must be one of"),
        (lambda: cor.corrupt(torch.rand(2, 1, 4, 4), "rotation", 6), "severity must be an integer in 0..5"),
        (lambda: cor.gaussian_noise(torch.rand(2, 4, 4), 1), r"images must be a tensor of shape \(N, C, H, W\)"),
        (lambda: cor.gaussian_noise(torch.rand(1, 1, 4, 4) * 2, 1), r"values in \[0, 1\]"),
    ],
)
def test_invalid_corruption_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- CNN, training, pipeline ----------------------------------------------------------------


def test_same_seed_same_trained_model_and_predictions():
    x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 3, (64,))
    models = [SmallCNN(3, seed=4) for _ in range(2)]
    for m in models:
        train_classifier(m, x, y, epochs=2, seed=9, progress=False)
    assert torch.equal(predict_proba(models[0], x), predict_proba(models[1], x))


def test_training_accepts_soft_targets_and_lowers_the_loss():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (64,), generator=g)
    x = 0.2 * torch.rand(64, 1, 28, 28, generator=g) + 0.3 * y[:, None, None, None]  # learnable
    history = train_classifier(SmallCNN(3), x, sl.smooth_labels(y, 3), epochs=5, lr=1e-2, progress=False)
    assert history[-1] < history[0]


def test_refiner_gives_probability_vectors_and_learns_something():
    from qrobust_lite import data

    train = data.load("mnist", "train", 300, classes=[0, 1], verbose=False)
    refiner = lr.fit_refiner(train.images, train.labels, 2, n_qubits=4, n_layers=2, epochs=3, progress=False)
    p = refiner.class_probabilities(train.images)
    assert p.shape == (300, 2) and torch.allclose(p.sum(1), torch.ones(300), atol=1e-5)
    assert metrics.accuracy(train.labels, p) > 0.8
    amp = lr.fit_refiner(train.images, train.labels, 2, n_qubits=4, encoding="amplitude", epochs=1, progress=False)
    assert amp.features(train.images[:3]).shape == (3, 16)


@pytest.fixture
def one_thread():
    """torch on one thread, which the training loop keeps: it otherwise takes the cores other
    programs leave free (``backend.load_aware_threads``), and a CNN's weights differ in their last
    digits between thread counts, so two runs beside a busy program could differ."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_experiment_is_reproducible_and_complete(one_thread):
    kwargs = dict(
        dataset="mnist",
        n_train=100,
        n_test=50,
        seeds=(0, 1),
        epochs=1,
        vqc_epochs=1,
        smoothings=(0.1, 0.3),
        temperatures=(1.0,),
        mixes=(0.2, 0.6),
        progress=False,
    )
    a, b = lr.robustness_experiment(**kwargs), lr.robustness_experiment(**kwargs)
    assert a == b
    candidates = 1 + 2 + 2 + 1  # one-hot, 2 eps, 1 x 2 (T, mix), temperature scaling
    assert len(a["runs"]) == 2 * candidates * (1 + len(cor.KINDS) * 5)
    assert a["selected"] == lr.select(a) and set(a["selected"]) == set(lr.METHODS)
    assert a["selected"]["label smoothing"]["smoothing"] in (0.1, 0.3)
    table = lr.summarise(a)
    assert set(table) == set(lr.METHODS) and set(table["one-hot"]["rotation"]) == set(cor.SEVERITIES)
    assert len(lr.selected_runs(a)) == 2 * len(lr.METHODS) * (1 + len(cor.KINDS) * 5)
    gain, kind, severity = lr.best_relative_gain(a, "quantum-refined")
    assert kind in cor.KINDS and severity >= 1 and gain > -1
    points = lr.tradeoff(a)
    assert len(points) == candidates and all(0 <= p["clean ece"][0] <= 1 for p in points.values())
    # temperature scaling divides the one-hot logits by a constant: the same predictions
    assert points[("temperature scaling", ())]["corrupted accuracy"] == points[("one-hot", ())]["corrupted accuracy"]


def _rows(method, params, seed, val_nll, accuracy, ece):
    """One candidate's rows for one seed: clean and every corrupted set, all at ``accuracy``."""
    sets = [("clean", 0)] + [(k, s) for k in cor.KINDS for s in cor.SEVERITIES[1:]]
    return [
        {
            "seed": seed,
            "method": method,
            "params": params,
            "val_nll": val_nll,
            "kind": k,
            "severity": s,
            "accuracy": accuracy,
            "ece": ece,
            "nll": 0.0,
        }
        for k, s in sets
    ]


def _results(refined_val_nll, seeds=(0, 1)):
    rows = []
    for seed in seeds:
        rows += _rows("one-hot", {}, seed, 0.30, 0.50, 0.10) + _rows("temperature scaling", {}, seed, 0.28, 0.50, 0.05)
        rows += _rows("label smoothing", {"smoothing": 0.1}, seed, 0.29, 0.55, 0.08)
        # the strong mix is best on the test sets; the validation NLL decides which is picked
        rows += _rows("quantum-refined", {"temperature": 1.0, "mix": 0.1}, seed, 0.27, 0.52, 0.07)
        rows += _rows("quantum-refined", {"temperature": 1.0, "mix": 0.5}, seed, refined_val_nll, 0.70, 0.30)
    results = {"config": {}, "runs": rows}
    return {**results, "selected": lr.select(results)}


def test_selection_follows_the_validation_nll_never_the_test_sets():
    assert lr.select(_results(0.40))["quantum-refined"] == {"mix": 0.1, "temperature": 1.0}
    assert lr.select(_results(0.20))["quantum-refined"] == {"mix": 0.5, "temperature": 1.0}
    assert lr.summarise(_results(0.40))["quantum-refined"]["rotation"][0][0] == 0.52
    assert lr.summarise(_results(0.20))["quantum-refined"]["rotation"][0][0] == 0.70


def test_robust_and_calibrated_lists_the_candidates_better_on_both_axes():
    both = lr.robust_and_calibrated(_results(0.40))
    # higher corrupted accuracy than one-hot (0.50) and lower clean ECE (0.10): smoothing and the
    # weak mix; the strong mix is more robust but worse calibrated, temperature scaling only calibrated
    assert both == [("label smoothing", {"smoothing": 0.1}), ("quantum-refined", {"mix": 0.1, "temperature": 1.0})]
    # against smoothing nothing wins both: the weak mix is less robust, the strong one worse calibrated
    assert lr.robust_and_calibrated(_results(0.40), baseline="label smoothing") == []
    assert lr.label_name("quantum-refined", {"mix": 0.1, "temperature": 1.0}) == "quantum-refined (T 1, mix 0.1)"


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: SmallCNN(1), "n_classes must be an integer in 2..1000"),
        (lambda: SmallCNN(10, dropout=1.0), r"dropout must be a number in \[0, 1\)"),
        (lambda: SmallCNN(10)(torch.rand(2, 1, 32, 32)), r"images must have shape \(N, C, 28, 28\)"),
        (lambda: train_classifier(SmallCNN(3), torch.rand(4, 1, 28, 28), torch.tensor([0, 1])), "same length"),
        (
            lambda: train_classifier(SmallCNN(3), torch.rand(2, 1, 28, 28), torch.tensor([0, 1]), epochs=0),
            "epochs must be a positive integer",
        ),
        (
            lambda: train_classifier(SmallCNN(3), torch.rand(2, 1, 28, 28), torch.tensor([0, 1]), batch_size=0),
            "batch_size must be a positive integer",
        ),
        (
            lambda: predict_proba(SmallCNN(3), torch.rand(2, 1, 28, 28), temperature=0),
            "temperature must be a positive number",
        ),
        (
            lambda: lr.fit_refiner(torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 0, 1]), 2, encoding="basis"),
            r"encoding must be one of \['angle', 'amplitude'\]",
        ),
        (
            lambda: lr.fit_refiner(torch.rand(4, 28, 28), torch.tensor([0, 1, 0, 1]), 2),
            r"images must be a tensor of shape \(N, C, H, W\)",
        ),
        (
            lambda: cal.fit_temperature(torch.rand(4), torch.tensor([0, 1, 0, 1])),
            r"logits must be a tensor of shape \(N, F\)",
        ),
        (lambda: lr.RefiningRun(smoothings=()), r"smoothings must be a list or tuple of at least 1 item"),
        (lambda: lr.RefiningRun(mixes=(0.1, 0.1)), "mixes must not repeat an item"),
        (lambda: lr.RefiningRun(mixes=(0.1, 1.5)), r"mixes\[1\] must be a number in \[0, 1\]"),
        (lambda: lr.RefiningRun(temperatures=(0.0,)), r"temperatures\[0\] must be a positive number"),
        (
            lambda: lr.robust_and_calibrated({"runs": [], "selected": {}}, baseline="bayes"),
            r"baseline must be one of \['one-hot'",
        ),
    ],
)
def test_invalid_model_and_training_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
