"""qrobust_lite.course.performance: every workload runs for every method and computes the same numbers
(tiny sizes; speed itself is measured by benchmarks/fast_path.py, never by tests)."""

import pytest
import torch

from qrobust_lite.course import performance as pf


def test_training_step_losses_and_gradients_agree_between_fast_path_default_qubit_and_loop():
    steps = {
        m: pf.training_step(m, 3, batch_size=4, n_layers=2)()
        for m in ("qrobust_lite", "default.qubit", "per-sample loop")
    }
    for method in ("qrobust_lite", "per-sample loop"):
        loss, grad = steps[method]
        assert loss == pytest.approx(steps["default.qubit"][0], abs=1e-10), method
        assert torch.allclose(grad, steps["default.qubit"][1], atol=1e-10), method
    loss, grad = pf.training_step("lightning.qubit", 3, batch_size=4, n_layers=2)()
    assert abs(loss) <= 3 * 4 and grad.shape == (2, 3, 3)


def test_a_repeated_step_returns_its_own_gradient_not_a_sum():
    step = pf.training_step("qrobust_lite", 3, batch_size=4, n_layers=2)
    first, second = step()[1].clone(), step()[1]
    assert torch.equal(first, second)


def test_every_method_gets_the_same_inputs_whatever_the_batch():
    x, w, _ = pf.training_inputs(3, 16)
    x_small, w_small, _ = pf.training_inputs(3, 4)
    assert torch.equal(w, w_small) and torch.equal(x[:4], x_small)
    assert pf.patch_angles(pf.patch_inputs(2)).shape == (2 * 3 * 16 * 16, 4)


def test_label_probabilities_agree_across_all_methods():
    probs = {m: pf.label_forward(m, 3, 5, n_layers=2)() for m in pf.METHODS}
    for method, p in probs.items():
        assert p.shape == (5, 8), method
        assert torch.allclose(p.double(), probs["default.qubit"].double(), atol=1e-8), method


def test_patch_workloads_build_and_the_fast_one_runs():
    out = pf.patch_forward("qrobust_lite", 2)()
    assert out.shape == (2, 12, 16, 16)
    for method in pf.METHODS[1:]:
        assert callable(pf.patch_forward(method, 1))  # 768 circuits each: built, not run here
    assert pf.samples_per_second(lambda: None, 10, min_time=0.0, max_repeats=1) > 0


def test_unknown_method_is_an_error():
    for workload in (
        lambda: pf.training_step("qiskit", 2),
        lambda: pf.label_forward("qiskit", 2, 2),
        lambda: pf.patch_forward("qiskit", 1),
    ):
        with pytest.raises(ValueError, match="method must be one of"):
            workload()


def test_gpu_methods_listed_only_when_present():
    assert ("qrobust_lite (cuda)" in pf.cuda_methods()) == torch.cuda.is_available()
