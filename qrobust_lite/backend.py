"""Where the course's computations run, and why (book: *Primer*, section *Where circuits run*).

Two choices, each reported with its reason:

**The PennyLane device** of a circuit (:func:`choose_device`), in order:

1. ``QROBUST_DEVICE`` (``default.qubit``, ``lightning.qubit`` or ``lightning.gpu``) overrides
   everything; ``auto`` or unset means apply the rules below.
2. Up to 12 qubits: ``default.qubit`` with backpropagation, and the package evaluates the
   circuit on its fast path (:mod:`~qrobust_lite.fastpath`), which runs a whole batch in a few
   large torch operations. Lightning devices, ``lightning.gpu`` included, run a broadcast batch
   one sample at a time: measured on 2 CPU cores, a training step (batch 256) on
   ``lightning.qubit`` with adjoint gradients is 28-310x slower than on the fast path at 4-12
   qubits (``benchmarks/fast_path.py``; a GPU was not available to measure ``lightning.gpu``).
   So a GPU's presence alone does not pick ``lightning.gpu``: with CUDA, the fast path runs on
   the GPU instead (see below).
3. From 13 qubits on, backprop's memory grows with the batch, so adjoint gradients are
   chosen: ``lightning.gpu`` when it is installed and runs a one-gate circuit on a CUDA GPU,
   else ``lightning.qubit``, else ``default.qubit``.

**The CPU threads** of torch (:func:`load_aware_threads`, used by the training loop, by
:func:`~qrobust_lite.training.predict_logits` and by :func:`~qrobust_lite.attacks.pgd`): one per core
that other programs leave free, never more than torch's current count, at least one. Two threads
on two cores that another program also uses are far slower than one: each small operation that
torch splits between threads waits for the thread the scheduler has set aside, and a 4-qubit
training step fell from about 280,000 to 5,000 samples/s that way (``benchmarks/busy_machine.py``).

**The torch device** of the fast path and the classical networks (:func:`torch_device`):
``cuda`` when torch sees a CUDA GPU, else ``cpu``; ``QROBUST_TORCH_DEVICE`` (``cpu`` or
``cuda``) overrides. Models are built on it and take inputs from anywhere: they move a batch to
their device and return the result on the batch's device, so on a CPU-only machine nothing
moves at all.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pennylane as qml
import torch
from torch import nn

from .validation import MODEL, Either, Instance, Int, Optional, Options, Real, validate_params

ENV_VAR = "QROBUST_DEVICE"
TORCH_ENV_VAR = "QROBUST_TORCH_DEVICE"
DEVICES = ("default.qubit", "lightning.qubit", "lightning.gpu")
DIFF_METHOD = {"default.qubit": "backprop", "lightning.qubit": "adjoint", "lightning.gpu": "adjoint"}
BACKPROP_MAX_QUBITS = 12


@dataclass(frozen=True)
class DeviceChoice:
    """A PennyLane device name, the gradient method that goes with it, and the reason."""

    name: str
    diff_method: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} (diff_method={self.diff_method}): {self.reason}"


def _plugin_installed(name: str) -> bool:
    module = {
        "lightning.gpu": "pennylane_lightning.lightning_gpu",
        "lightning.qubit": "pennylane_lightning.lightning_qubit",
    }[name]
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


@functools.cache
def probe_lightning_gpu() -> str | None:
    """Return ``None`` when ``lightning.gpu`` runs a tiny circuit, else why it cannot."""
    if not _plugin_installed("lightning.gpu"):
        return "lightning.gpu plugin not installed (package pennylane-lightning-gpu)"
    try:
        dev = qml.device("lightning.gpu", wires=1)

        @qml.qnode(dev)
        def one_gate():
            qml.Hadamard(0)
            return qml.expval(qml.PauliZ(0))

        one_gate()
    except (ImportError, ValueError, RuntimeError, OSError, qml.exceptions.DeviceError) as err:
        return f"lightning.gpu is installed but unusable: {type(err).__name__}: {err}"
    return None


FAST_PATH_REASON = (
    "up to {max} qubits the circuit runs on qrobust_lite's fast path ({where}), "
    "a whole batch in a few torch operations; lightning devices run a batch one "
    "sample at a time: 28-310x slower on a training step, measured on 2 CPU cores"
)


def _adjoint_choice(n_qubits: int) -> DeviceChoice:
    """Above BACKPROP_MAX_QUBITS: the fastest installed device with adjoint gradients."""
    why = f"{n_qubits} qubits: backprop memory grows with the batch beyond {BACKPROP_MAX_QUBITS} qubits"
    problem = probe_lightning_gpu()
    if problem is None:
        return DeviceChoice("lightning.gpu", "adjoint", f"{why}; lightning.gpu runs on the CUDA GPU")
    if _plugin_installed("lightning.qubit"):
        return DeviceChoice("lightning.qubit", "adjoint", f"{why}; {problem}, so lightning.qubit")
    return DeviceChoice("default.qubit", "backprop", f"{why}, but no lightning device is installed")


@validate_params(n_qubits=Int(1, 24))
def choose_device(n_qubits: int = 4) -> DeviceChoice:
    """Pick the device for circuits on ``n_qubits`` wires (1 <= n_qubits <= 24).

    >>> choose_device(4).name
    'default.qubit'
    """
    override = os.environ.get(ENV_VAR, "auto").strip()
    if override not in DEVICES + ("auto", ""):
        raise ValueError(f"${ENV_VAR} must be one of {list(DEVICES + ('auto',))}, got {override!r}")
    if override in ("default.qubit", "lightning.qubit"):
        if override == "lightning.qubit" and not _plugin_installed("lightning.qubit"):
            raise ValueError(f"${ENV_VAR}=lightning.qubit but pennylane-lightning is not installed")
        return DeviceChoice(override, DIFF_METHOD[override], f"set by ${ENV_VAR}")
    if override == "lightning.gpu":
        problem = probe_lightning_gpu()
        if problem is None:
            return DeviceChoice("lightning.gpu", "adjoint", f"set by ${ENV_VAR}")
        _warn_once(f"${ENV_VAR}=lightning.gpu, but {problem}; falling back to default.qubit")
        return DeviceChoice("default.qubit", "backprop", f"{problem}; fell back from ${ENV_VAR}")
    if n_qubits > BACKPROP_MAX_QUBITS:
        return _adjoint_choice(n_qubits)
    return DeviceChoice(
        "default.qubit", "backprop", FAST_PATH_REASON.format(max=BACKPROP_MAX_QUBITS, where=torch_device_reason())
    )


@functools.cache
def _warn_once(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)


@validate_params(
    n_qubits=Int(1, 24), choice=Optional(Either(Instance(DeviceChoice, "a DeviceChoice"), Options(*DEVICES)))
)
def make_device(n_qubits: int, choice: DeviceChoice | str | None = None):
    """A PennyLane device on ``n_qubits`` wires: ``choice`` may be a name, a choice or None (auto)."""
    if choice is None:
        choice = choose_device(n_qubits)
    return qml.device(choice.name if isinstance(choice, DeviceChoice) else choice, wires=n_qubits)


def torch_device() -> torch.device:
    """Where the fast path and the classical networks compute: ``cuda`` or ``cpu``.

    ``cuda`` when torch sees a CUDA GPU; ``$QROBUST_TORCH_DEVICE`` (``cpu``, ``cuda`` or
    ``auto``) overrides.

    >>> torch_device().type in ("cpu", "cuda")
    True
    """
    override = os.environ.get(TORCH_ENV_VAR, "auto").strip() or "auto"
    if override not in ("auto", "cpu", "cuda"):
        raise ValueError(f"${TORCH_ENV_VAR} must be one of ['auto', 'cpu', 'cuda'], got {override!r}")
    if override == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"${TORCH_ENV_VAR}=cuda but torch {torch.__version__} sees no CUDA GPU "
            "(a CPU build of torch, or no driver); unset it to use the CPU"
        )
    if override == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(override)


def torch_device_reason() -> str:
    """One line for the learner: the torch device and why."""
    device = torch_device()
    if os.environ.get(TORCH_ENV_VAR, "auto").strip() not in ("auto", ""):
        return f"torch device {device.type}, set by ${TORCH_ENV_VAR}"
    if device.type == "cuda":
        return f"on the GPU, {torch.cuda.get_device_name(0)}"
    return "on the CPU: torch sees no CUDA GPU"


@validate_params(module=MODEL)
def place(module: nn.Module) -> nn.Module:
    """Move ``module`` to :func:`torch_device` (nothing moves on a CPU-only machine)."""
    return module.to(torch_device())


@validate_params(module=MODEL)
def device_of(module: nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (the CPU when it has none)."""
    for tensor in [*module.parameters(), *module.buffers()]:
        return tensor.device
    return torch.device("cpu")


def cpu_seconds() -> tuple[float, float, float] | None:
    """(wall clock, CPU seconds every process used, CPU seconds this process used), or None where
    ``/proc/stat`` is not there (Linux only)."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()[1:]
    except OSError:
        return None
    ticks = [int(v) for v in fields]
    busy = sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)  # all but idle and iowait
    own = os.times()
    return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), own.user + own.system


READING = Optional(Instance(tuple, "a cpu_seconds() reading"))


@validate_params(start=READING, end=READING)
def others_busy(start: tuple[float, float, float] | None, end: tuple[float, float, float] | None) -> float:
    """How many cores other processes kept busy on average between two :func:`cpu_seconds`
    readings (NaN where there are none)."""
    if start is None or end is None or end[0] <= start[0]:
        return float("nan")
    return max(0.0, ((end[1] - start[1]) - (end[2] - start[2])) / (end[0] - start[0]))


#: Seconds over which :func:`threads_for_load` watches the other processes, and how long its
#: answer is reused (a sweep calls the training loop many times in a row).
LOAD_WINDOW, LOAD_REUSE = 0.1, 5.0
_last_choice: list[tuple[float, int, int]] = []  # (when, threads before, the choice)
_open_regions = [0]  # load_aware_threads regions open now: an inner one keeps the outer's count


@validate_params(window=Real(0.01, 10.0))
def threads_for_load(window: float = LOAD_WINDOW) -> int:
    """Torch's intra-op threads for work starting now: the cores that other processes leave free
    over ``window`` seconds, at most torch's current count, at least 1. Without ``/proc/stat``
    (not Linux) the current count. The answer is reused for :data:`LOAD_REUSE` seconds.

    >>> 1 <= threads_for_load() <= torch.get_num_threads()
    True
    """
    now, current = time.perf_counter(), torch.get_num_threads()
    if current == 1:  # nothing to choose: no need to watch
        return 1
    if _last_choice and now - _last_choice[0][0] < LOAD_REUSE and _last_choice[0][1] == current:
        return _last_choice[0][2]
    start = cpu_seconds()
    time.sleep(window)
    busy = others_busy(start, cpu_seconds())
    cores = os.cpu_count() or 1
    choice = current if math.isnan(busy) else max(1, min(current, cores - round(busy)))
    _last_choice[:] = [(time.perf_counter(), current, choice)]
    return choice


@contextlib.contextmanager
def load_aware_threads() -> Iterator[int]:
    """Within: torch on :func:`threads_for_load` threads (yielded); after: the count before.

    A count set on purpose is kept as a ceiling: the experiments runner's one thread per run
    stays one. A region inside another (PGD inside adversarial training) keeps the outer one's
    count without watching the load again. A poisoning run's QNN and MLP gave identical metrics
    at 1 and 2 threads; a CNN's weights can differ in their last digits, as between machines
    with different cores.

    >>> before = torch.get_num_threads()
    >>> with load_aware_threads() as threads:
    ...     torch.get_num_threads() == threads
    True
    >>> torch.get_num_threads() == before
    True
    """
    before = torch.get_num_threads()
    threads = before if _open_regions[0] else threads_for_load()
    if threads != before:
        torch.set_num_threads(threads)
    _open_regions[0] += 1
    try:
        yield threads
    finally:
        _open_regions[0] -= 1
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
