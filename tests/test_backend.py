"""qrobust_lite.backend: every branch of the device choice, mocking what this machine lacks."""

import warnings

import pennylane as qml
import pytest

from qrobust_lite import backend


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.delenv(backend.ENV_VAR, raising=False)
    backend.probe_lightning_gpu.cache_clear()
    backend._warn_once.cache_clear()
    yield
    backend.probe_lightning_gpu.cache_clear()
    backend._warn_once.cache_clear()


def plugins(monkeypatch, gpu: bool, cpu: bool = True):
    monkeypatch.setattr(backend, "_plugin_installed",
                        lambda name: gpu if name == "lightning.gpu" else cpu)


def gpu_device_raises(monkeypatch, error):
    real = qml.device

    def device(name, *args, **kwargs):
        if name == "lightning.gpu":
            raise error
        return real(name, *args, **kwargs)

    monkeypatch.setattr(backend.qml, "device", device)


def gpu_device_works(monkeypatch):
    real = qml.device
    monkeypatch.setattr(backend.qml, "device",
                        lambda name, *a, **k: real("default.qubit", *a, **k) if name == "lightning.gpu"
                        else real(name, *a, **k))


def test_plugin_missing_falls_back_to_batched_default_qubit_with_one_warning(monkeypatch):
    plugins(monkeypatch, gpu=False)
    with pytest.warns(RuntimeWarning, match="lightning.gpu plugin not installed") as record:
        choice = backend.choose_device(8)
        backend.choose_device(8)
    assert len(record) == 1
    assert (choice.name, choice.diff_method) == ("default.qubit", "backprop")
    assert "vectorised" in choice.reason and "plugin not installed" in choice.reason


@pytest.mark.parametrize("error,word", [
    (ImportError("libcustatevec.so: cannot open shared object file"), "ImportError"),
    (ValueError("CUDA device is an unsupported version"), "ValueError"),
    (qml.exceptions.DeviceError("No CUDA device found"), "DeviceError"),
])
def test_installed_but_broken_lightning_gpu_falls_back(monkeypatch, error, word):
    plugins(monkeypatch, gpu=True)
    gpu_device_raises(monkeypatch, error)
    with pytest.warns(RuntimeWarning, match=f"installed but unusable: {word}"):
        choice = backend.choose_device(4)
    assert choice.name == "default.qubit"
    assert word in choice.reason


def test_usable_lightning_gpu_is_chosen(monkeypatch):
    plugins(monkeypatch, gpu=True)
    gpu_device_works(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        choice = backend.choose_device(8)
    assert (choice.name, choice.diff_method) == ("lightning.gpu", "adjoint")
    assert "CUDA GPU" in choice.reason


def test_many_qubits_on_cpu_choose_lightning_qubit_adjoint(monkeypatch):
    plugins(monkeypatch, gpu=False)
    with pytest.warns(RuntimeWarning):
        choice = backend.choose_device(backend.BACKPROP_MAX_QUBITS + 1)
    assert (choice.name, choice.diff_method) == ("lightning.qubit", "adjoint")


def test_many_qubits_without_lightning_stay_on_default_qubit(monkeypatch):
    plugins(monkeypatch, gpu=False, cpu=False)
    with pytest.warns(RuntimeWarning):
        assert backend.choose_device(16).name == "default.qubit"


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
    with pytest.warns(RuntimeWarning, match="falling back to default.qubit"):
        assert backend.choose_device(4).name == "default.qubit"


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
    with pytest.raises(ValueError, match="device must be one of"):
        backend.make_device(2, "braket.local")


def test_real_probe_on_this_machine_reports_a_reason():
    problem = backend.probe_lightning_gpu()
    assert problem is None or "lightning.gpu" in problem


def test_make_device_builds_the_named_device():
    dev = backend.make_device(3, "default.qubit")
    assert dev.name == "default.qubit" and len(dev.wires) == 3
