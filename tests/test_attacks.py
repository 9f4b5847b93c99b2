"""qrobust_lite.attacks: agreement with the Adversarial Robustness Toolbox, budgets."""

import numpy as np
import pytest
import torch

from qrobust_lite import attacks, data
from qrobust_lite.cnn import SmallCNN
from qrobust_lite.training import train_classifier


@pytest.fixture(scope="module")
def fixed_model():
    ds = data.load("mnist", "test", 200, verbose=False)
    model = SmallCNN(10, seed=0)
    train_classifier(model, ds.images, ds.labels, epochs=2, progress=False)
    model.eval()
    return model, ds.images[:64], ds.labels[:64]


def test_fgsm_and_pgd_agree_with_the_adversarial_robustness_toolbox(fixed_model):
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    model, x, y = fixed_model
    clf = PyTorchClassifier(
        model=model, loss=torch.nn.CrossEntropyLoss(), input_shape=(1, 28, 28), nb_classes=10, clip_values=(0.0, 1.0)
    )
    art_fgsm = FastGradientMethod(clf, norm=np.inf, eps=0.1).generate(x.numpy(), y=y.numpy())
    assert np.allclose(attacks.fgsm(model, x, y, 0.1).numpy(), art_fgsm, atol=1e-6)
    art_pgd = ProjectedGradientDescent(
        clf, norm=np.inf, eps=0.1, eps_step=0.025, max_iter=10, num_random_init=0, verbose=False
    ).generate(x.numpy(), y=y.numpy())
    ours = attacks.pgd(model, x, y, 0.1, step_size=0.025, steps=10).numpy()
    assert np.allclose(ours, art_pgd, atol=1e-6)


@pytest.mark.parametrize("epsilon", [0.0, 0.03, 0.3])
def test_adversarial_examples_stay_in_the_budget_and_pixel_range(fixed_model, epsilon):
    model, x, y = fixed_model
    for x_adv in (
        attacks.fgsm(model, x, y, epsilon),
        attacks.pgd(model, x, y, epsilon, steps=5, random_start=True, seed=1),
    ):
        assert (x_adv - x).abs().max() <= epsilon + 1e-6
        assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_pgd_loss_at_least_fgsm_loss_at_least_clean_loss(fixed_model):
    model, x, y = fixed_model
    loss = lambda images: torch.nn.functional.cross_entropy(model(images), y).item()  # noqa: E731
    clean = loss(x)
    one_step = loss(attacks.fgsm(model, x, y, 0.1))
    many_steps = loss(attacks.pgd(model, x, y, 0.1, steps=10))
    assert many_steps >= one_step >= clean


def test_probability_outputs_give_the_same_attack_as_logits(fixed_model):
    model, x, y = fixed_model
    probs_model = torch.nn.Sequential(model, torch.nn.Softmax(dim=1))
    assert torch.allclose(attacks.fgsm(probs_model, x, y, 0.1, loss="probs"), attacks.fgsm(model, x, y, 0.1))


def test_random_start_is_seeded(fixed_model):
    model, x, y = fixed_model
    a = attacks.pgd(model, x, y, 0.1, steps=2, random_start=True, seed=3)
    assert torch.equal(a, attacks.pgd(model, x, y, 0.1, steps=2, random_start=True, seed=3))
    assert not torch.equal(a, attacks.pgd(model, x, y, 0.1, steps=2, random_start=True, seed=4))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda m, x, y: attacks.fgsm(m, x, y, -0.1), r"epsilon must be a number in \[0, 1\]"),
        (lambda m, x, y: attacks.fgsm(m, x, y, float("nan")), "epsilon must be"),
        (lambda m, x, y: attacks.fgsm(m, x * 2, y, 0.1), r"values in \[0, 1\]"),
        (lambda m, x, y: attacks.fgsm(m, x, y[:3], 0.1), "images and labels must have the same length, got 64 and 3"),
        (lambda m, x, y: attacks.fgsm(m, x, y, 0.1, loss="hinge"), "loss must be one of"),
        (lambda m, x, y: attacks.pgd(m, x, y, 0.1, steps=0), "steps must be a positive integer"),
        (lambda m, x, y: attacks.pgd(m, x, y, 0.1, step_size=-1.0), "step_size must be a positive number"),
        (lambda m, x, y: attacks.pgd(m, x, y, 0.1, restarts=-1), "restarts must be an integer >= 0"),
    ],
)
def test_invalid_arguments_name_the_argument(fixed_model, call, match):
    model, x, y = fixed_model
    with pytest.raises(ValueError, match=match):
        call(model, x, y)


def test_restarts_only_add_successes_and_stay_in_the_budget(fixed_model):
    model, x, y = fixed_model
    eps = 0.05
    one = attacks.pgd(model, x, y, eps, steps=3, random_start=True, seed=0)
    more = attacks.pgd(model, x, y, eps, steps=3, random_start=True, seed=0, restarts=3)
    with torch.no_grad():
        fooled_one, fooled_more = model(one).argmax(1) != y, model(more).argmax(1) != y
    assert bool((fooled_more | ~fooled_one).all())  # every image fooled once stays fooled
    assert int(fooled_more.sum()) >= int(fooled_one.sum())
    assert torch.equal(more[~fooled_more], one[~fooled_more])  # untouched where no restart won
    assert float((more - x).abs().max()) <= eps + 1e-6 and float(more.min()) >= 0 and float(more.max()) <= 1
    assert torch.equal(attacks.pgd(model, x, y, eps, steps=3, restarts=0), attacks.pgd(model, x, y, eps, steps=3))


def test_pgd_with_random_starts_and_a_restart_matches_the_toolbox_in_strength(fixed_model):
    """ART's PGD with two random initialisations keeps, per image, an adversarial example that
    fools the model if either run does: the same rule as ``random_start=True, restarts=1``. Their
    random draws differ, so the two are compared by how many images they fool."""
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    model, x, y = fixed_model
    clf = PyTorchClassifier(
        model=model, loss=torch.nn.CrossEntropyLoss(), input_shape=(1, 28, 28), nb_classes=10, clip_values=(0.0, 1.0)
    )
    for eps in (0.02, 0.04):
        art = ProjectedGradientDescent(
            clf, norm=np.inf, eps=eps, eps_step=eps / 4, max_iter=10, num_random_init=2, verbose=False
        ).generate(x.numpy(), y=y.numpy())
        ours = attacks.pgd(model, x, y, eps, step_size=eps / 4, steps=10, random_start=True, restarts=1)
        with torch.no_grad():
            robust = [(model(torch.as_tensor(a)).argmax(1) == y).double().mean().item() for a in (art, ours)]
        assert 0.05 < robust[1] < 0.95 and abs(robust[0] - robust[1]) <= 3 / 64, (eps, robust)
        assert (ours - x).abs().max() <= eps + 1e-6
