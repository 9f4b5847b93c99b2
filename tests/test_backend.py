"""qrobust_lite.backend: every branch of the device choice, mocking what this machine lacks."""

import math
import os
import warnings

import pennylane as qml
import pytest
import torch

from qrobust_lite import backend, circuits, cnn, networks


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.delenv(backend.ENV_VAR, raising=False)
    backend.probe_lightning_gpu.cache_clear()
    backend._warn_once.cache_clear()
    yield
    backend.probe_lightning_gpu.cache_clear()
    backend._warn_once.cache_clear()


def plugins(monkeypatch, gpu: bool, cpu: bool = True):
    monkeypatch.setattr(backend, "_plugin_installed", lambda name: gpu if name == "lightning.gpu" else cpu)


def gpu_device_raises(monkeypatch, error):
    real = qml.device

    def device(name, *args, **kwargs):
        if name == "lightning.gpu":
            raise error
        return real(name, *args, **kwargs)

    monkeypatch.setattr(backend.qml, "device", device)


def gpu_device_works(monkeypatch):
    real = qml.device
    monkeypatch.setattr(
        backend.qml,
        "device",
        lambda name, *a, **k: real("default.qubit", *a, **k) if name == "lightning.gpu" else real(name, *a, **k),
    )


def test_up_to_12_qubits_the_fast_path_is_chosen_without_probing_or_warning(monkeypatch):
    plugins(monkeypatch, gpu=True)
    gpu_device_works(monkeypatch)  # even a usable lightning.gpu is not chosen
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n in (1, 8, backend.BACKPROP_MAX_QUBITS):
            choice = backend.choose_device(n)
            assert (choice.name, choice.diff_method) == ("default.qubit", "backprop")
    assert backend.probe_lightning_gpu.cache_info().misses == 0  # never probed
    assert "fast path" in choice.reason and "one sample at a time" in choice.reason


@pytest.mark.parametrize(
    "error,word",
    [
        (ImportError("libcustatevec.so: cannot open shared object file"), "ImportError"),
        (ValueError("CUDA device is an unsupported version"), "ValueError"),
        (qml.exceptions.DeviceError("No CUDA device found"), "DeviceError"),
    ],
)
def test_many_qubits_with_broken_lightning_gpu_use_lightning_qubit(monkeypatch, error, word):
    plugins(monkeypatch, gpu=True)
    gpu_device_raises(monkeypatch, error)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        choice = backend.choose_device(backend.BACKPROP_MAX_QUBITS + 1)
    assert (choice.name, choice.diff_method) == ("lightning.qubit", "adjoint")
    assert f"installed but unusable: {word}" in choice.reason


def test_many_qubits_with_usable_lightning_gpu_choose_it(monkeypatch):
    plugins(monkeypatch, gpu=True)
    gpu_device_works(monkeypatch)
    choice = backend.choose_device(backend.BACKPROP_MAX_QUBITS + 1)
    assert (choice.name, choice.diff_method) == ("lightning.gpu", "adjoint")
    assert "CUDA GPU" in choice.reason


def test_many_qubits_on_cpu_choose_lightning_qubit_adjoint(monkeypatch):
    plugins(monkeypatch, gpu=False)
    choice = backend.choose_device(backend.BACKPROP_MAX_QUBITS + 1)
    assert (choice.name, choice.diff_method) == ("lightning.qubit", "adjoint")
    assert "plugin not installed" in choice.reason


def test_many_qubits_without_lightning_stay_on_default_qubit(monkeypatch):
    plugins(monkeypatch, gpu=False, cpu=False)
    choice = backend.choose_device(16)
    assert choice.name == "default.qubit" and "no lightning device" in choice.reason


@pytest.mark.parametrize("name", ["default.qubit", "lightning.qubit"])
def test_environment_variable_overrides(monkeypatch, name):
    monkeypatch.setenv(backend.ENV_VAR, name)
    choice = backend.choose_device(4)
    assert choice.name == name and choice.diff_method == backend.DIFF_METHOD[name]
    assert "set by $QROBUST_DEVICE" in choice.reason


def test_override_to_a_usable_gpu(monkeypatch):
    monkeypatch.setenv(backend.ENV_VAR, "lightning.gpu")
    plugins(monkeypatch, gpu=True)
    gpu_device_works(monkeypatch)
    assert backend.choose_device(4).reason == "set by $QROBUST_DEVICE"


def test_override_to_a_missing_gpu_warns_and_falls_back(monkeypatch):
    monkeypatch.setenv(backend.ENV_VAR, "lightning.gpu")
    plugins(monkeypatch, gpu=False)
    with pytest.warns(RuntimeWarning, match="falling back to default.qubit") as record:
        assert backend.choose_device(4).name == "default.qubit"
        backend.choose_device(4)
    assert len(record) == 1  # once per session


def test_override_to_missing_lightning_qubit_is_an_error(monkeypatch):
    monkeypatch.setenv(backend.ENV_VAR, "lightning.qubit")
    plugins(monkeypatch, gpu=False, cpu=False)
    with pytest.raises(ValueError, match="pennylane-lightning is not installed"):
        backend.choose_device(4)


def test_invalid_override_and_arguments(monkeypatch):
    monkeypatch.setenv(backend.ENV_VAR, "qiskit.aer")
    with pytest.raises(ValueError, match=r"\$QROBUST_DEVICE must be one of"):
        backend.choose_device(4)
    monkeypatch.delenv(backend.ENV_VAR)
    for bad in (0, 25, 2.0, True):
        with pytest.raises(ValueError, match="n_qubits must be an integer in 1..24"):
            backend.choose_device(bad)
    with pytest.raises(ValueError, match="choice must be a DeviceChoice or one of"):
        backend.make_device(2, "braket.local")


def test_real_probe_on_this_machine_reports_a_reason():
    problem = backend.probe_lightning_gpu()
    assert problem is None or "lightning.gpu" in problem


def test_make_device_builds_the_named_device():
    dev = backend.make_device(3, "default.qubit")
    assert dev.name == "default.qubit" and len(dev.wires) == 3


@pytest.fixture
def fake_gpu(monkeypatch):
    """torch sees a CUDA GPU (mocked: no GPU was lent to this project's machines)."""
    monkeypatch.delenv(backend.TORCH_ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Fake H200")


def test_torch_device_is_cuda_when_torch_sees_a_gpu(fake_gpu):
    assert backend.torch_device() == torch.device("cuda")
    assert "on the GPU, Fake H200" in backend.torch_device_reason()
    assert "on the GPU, Fake H200" in backend.choose_device(8).reason


def test_torch_device_is_the_cpu_without_a_gpu(monkeypatch):
    monkeypatch.delenv(backend.TORCH_ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert backend.torch_device() == torch.device("cpu")
    assert "no CUDA GPU" in backend.torch_device_reason()


def test_torch_device_override(monkeypatch, fake_gpu):
    monkeypatch.setenv(backend.TORCH_ENV_VAR, "cpu")
    assert backend.torch_device() == torch.device("cpu")
    assert "set by $QROBUST_TORCH_DEVICE" in backend.torch_device_reason()
    monkeypatch.setenv(backend.TORCH_ENV_VAR, "tpu")
    with pytest.raises(ValueError, match=r"\$QROBUST_TORCH_DEVICE must be one of \['auto', 'cpu', 'cuda'\], got 'tpu'"):
        backend.torch_device()


def test_cuda_override_without_a_gpu_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv(backend.TORCH_ENV_VAR, "cuda")
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        backend.torch_device()


@pytest.mark.parametrize(
    "make,x",
    [
        (lambda: cnn.SmallCNN(), torch.rand(3, 1, 28, 28)),
        (lambda: networks.MLP(8), torch.rand(3, 8)),
        (lambda: circuits.VQC(3, 2, 2, device="default.qubit"), torch.rand(3, 3)),
    ],
    ids=["SmallCNN", "MLP", "VQC fast path"],
)
def test_models_are_built_on_the_torch_device_and_keep_no_cpu_constants(monkeypatch, make, x):
    """Stands in for a GPU with torch's "meta" device (shapes, no data): a model built while
    torch_device() says meta has every parameter there, and its forward pass on meta inputs
    stays on meta, so no tensor inside it is pinned to the CPU."""
    monkeypatch.setattr(backend, "torch_device", lambda: torch.device("meta"))
    model = make()
    assert {t.device.type for t in [*model.parameters(), *model.buffers()]} == {"meta"}
    out = model(x.to("meta"))
    assert out.device.type == "meta" and out.shape[0] == len(x)


def test_models_answer_on_the_inputs_device_and_the_cpu_path_moves_nothing():
    model = networks.MLP(8)
    assert backend.device_of(model) == torch.device("cpu")
    x = torch.rand(4, 8, dtype=torch.float64)
    out = model(x)
    assert out.device == x.device
    assert x.to(backend.device_of(model)) is x  # on the CPU, .to() returns the same tensor


def test_threads_follow_the_cores_other_programs_leave_free(monkeypatch):
    """One thread per free core, at most the current count, at least one; the current count
    where the load cannot be read."""
    cores = os.cpu_count() or 1
    current = torch.get_num_threads()

    def readings(busy_cores: float):
        clock = iter([(0.0, 0.0, 0.0), (1.0, busy_cores, 0.0)])  # others used busy_cores CPU-seconds in 1 s
        return lambda: next(clock)

    for busy, expected in ((0.0, current), (cores, 1), (cores - 1, max(1, min(current, 1)))):
        backend._last_choice.clear()
        monkeypatch.setattr(backend, "cpu_seconds", readings(busy))
        assert backend.threads_for_load(0.01) == expected, busy
    backend._last_choice.clear()
    monkeypatch.setattr(backend, "cpu_seconds", lambda: None)
    assert backend.threads_for_load(0.01) == current
    backend._last_choice.clear()


def test_load_aware_threads_restore_the_count_and_fit_leaves_it_as_it_was(monkeypatch):
    from qrobust_lite import training

    before = torch.get_num_threads()
    monkeypatch.setattr(backend, "threads_for_load", lambda window=0.1: 1)
    with backend.load_aware_threads() as threads:
        assert threads == 1 == torch.get_num_threads()
    assert torch.get_num_threads() == before
    model = torch.nn.Linear(2, 1)
    x, y = torch.rand(8, 2), torch.rand(8, 1)
    training.fit(
        model,
        x,
        y,
        torch.nn.functional.mse_loss,
        epochs=1,
        batch_size=4,
        lr=0.1,
        generator=torch.Generator().manual_seed(0),
        progress=False,
    )
    assert torch.get_num_threads() == before


def test_evaluation_and_pgd_run_on_the_threads_the_load_leaves(monkeypatch):
    """Not only training: predicting and attacking, whose small operations wait for a busy core
    just as training's do, run on the threads other programs leave free."""
    from qrobust_lite import attacks, training

    seen = []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)

        def forward(self, x):
            seen.append(torch.get_num_threads())
            return self.linear(x.flatten(1))

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.setattr(backend, "threads_for_load", lambda window=0.1: 1)
        images, labels = torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 0])
        training.predict_proba(Recorder(), images)
        attacks.pgd(Recorder(), images, labels, epsilon=0.1, steps=2)
        assert len(seen) == 1 + 2 and set(seen) == {1} and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_others_busy_is_nan_without_readings():
    assert math.isnan(backend.others_busy(None, (1.0, 0.0, 0.0)))
    assert backend.others_busy((0.0, 1.0, 0.5), (2.0, 3.0, 1.0)) == 0.75
