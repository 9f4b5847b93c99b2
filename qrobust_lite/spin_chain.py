"""Quantum data: ground states of an XXZ spin chain in two phases (book: Part III,
*Label-flip poisoning, classical vs quantum*; paper: Chen and Zhang 2025).

The periodic XXZ chain of n spins,

    H(Delta) = sum_i  X_i X_{i+1} + Y_i Y_{i+1} + Delta Z_i Z_{i+1},

is built with PennyLane's spin Hamiltonians (``qml.spin.heisenberg``). For ``|Delta| < 1`` its
ground state is in the critical XY phase; for ``Delta > 1`` it is a Neel antiferromagnet. A
sample is the ground state at a random ``Delta``, labelled 1 when ``Delta > 1``: a
classification task whose inputs are quantum states, fed to a quantum network as they are.

All ground states come from batched exact diagonalisation: ``H(Delta) = H_xy + Delta H_zz``
for a stack of samples at once, ``torch.linalg.eigh`` on the stack. H conserves the total
magnetisation, and for an even chain with ``Delta > -1`` the ground state has magnetisation
zero, so only that block is diagonalised (70 x 70 instead of 256 x 256 at 8 spins; a test
checks the result against the full matrix). H is real, so the states are real vectors; their
global sign is arbitrary (and invisible to any measurement).

:func:`authors_pair` is the authors' design (their grid and split); :func:`represent` is how an
MLP may be shown a state: real, gauge-fixed (:func:`fix_gauge`) or with a random global phase
(:func:`global_phase`). The last changes the MLP's input and no measurement, so not the QNN's.

>>> states, labels, deltas = phase_dataset(4, 6, seed=0)
>>> states.shape, bool(torch.allclose(states.norm(dim=1), torch.ones(6, dtype=states.dtype)))
(torch.Size([6, 16]), True)
"""

from __future__ import annotations

import functools

import numpy as np
import pennylane as qml
import torch

from .validation import COUNT, NON_NEGATIVE, SEED, Array, Either, Int, Options, Real, Sequence_, validate_params

CRITICAL_DELTA = 1.0


@validate_params(n_qubits=Int(2, 16), delta=Real())
def xxz_hamiltonian(n_qubits: int, delta: float) -> qml.operation.Operator:
    """The periodic XXZ chain on ``n_qubits`` spins (2..16) with anisotropy ``delta``."""
    return qml.spin.heisenberg("chain", [n_qubits], coupling=[1.0, 1.0, delta], boundary_condition=n_qubits > 2)


@validate_params(n_qubits=Int(2, 16))
def zero_magnetisation_basis(n_qubits: int) -> torch.Tensor:
    """Indices of the basis states with as many 0s as 1s (C(n, n/2) of them); n even."""
    if n_qubits % 2:
        raise ValueError(f"n_qubits must be even (as many 0s as 1s), got {n_qubits}")
    b = torch.arange(2**n_qubits)
    ones = ((b[:, None] >> torch.arange(n_qubits)) & 1).sum(dim=1)
    return torch.nonzero(2 * ones == n_qubits).flatten()


@functools.lru_cache(maxsize=8)
def _parts(n_qubits: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """H_xy and H_zz restricted to zero magnetisation, real float64, with the basis indices."""
    wires = range(n_qubits)
    h_xy = qml.matrix(xxz_hamiltonian(n_qubits, 0.0), wire_order=wires)
    h_full = qml.matrix(xxz_hamiltonian(n_qubits, 1.0), wire_order=wires)
    real = lambda m: torch.from_numpy(np.real(np.asarray(m))).double()  # noqa: E731 (H is real)
    idx = zero_magnetisation_basis(n_qubits)
    block = lambda m: m[idx][:, idx]  # noqa: E731
    return block(real(h_xy)), block(real(h_full) - real(h_xy)), idx


@validate_params(
    n_qubits=Int(2, 12), deltas=Either(Array("features", ndim=1), Sequence_(Real(), min_len=0)), chunk=COUNT
)
def ground_states(n_qubits: int, deltas: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """Ground states (N, 2**n), real float64 unit vectors, of H(Delta) for every Delta in ``deltas`` (N,).

    ``chunk`` Hamiltonians are diagonalised at a time: at 12 spins each block is 924 x 924
    (6.8 MB), so all 1,500 of the paper's samples at once would hold 20 GB. Each matrix is
    diagonalised on its own either way, so the chunk changes no result."""
    deltas = torch.as_tensor(deltas, dtype=torch.float64)
    if n_qubits % 2:
        raise ValueError(f"n_qubits must be an even integer in 2..12, got {n_qubits!r}")
    if deltas.numel() and deltas.min() <= -1:
        raise ValueError("deltas must be > -1 (where the ground state has zero magnetisation)")
    h_xy, h_zz, idx = _parts(n_qubits)
    states = torch.zeros(len(deltas), 2**n_qubits, dtype=torch.float64)
    for start in range(0, len(deltas), chunk):
        part = deltas[start : start + chunk]
        _, vectors = torch.linalg.eigh(h_xy + part[:, None, None] * h_zz)  # (n, d, d), d = C(n, n/2); ascending
        states[start : start + chunk, idx] = vectors[:, :, 0]
    return states


@validate_params(
    n_qubits=Int(2, 12),
    n_samples=Int(2),
    seed=SEED,
    delta_range=Sequence_(Real(), min_len=2, max_len=2),
    margin=NON_NEGATIVE,
)
def phase_dataset(
    n_qubits: int = 8,
    n_samples: int = 500,
    seed: int = 0,
    delta_range: tuple[float, float] = (0.0, 2.0),
    margin: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Balanced ground-state data: (states (N, 2**n), labels (N,) 1 if Delta > 1, deltas (N,)).

    Half the samples draw Delta uniformly from ``[delta_range[0], 1 - margin]``, half from
    ``[1 + margin, delta_range[1]]``; ``margin`` keeps samples off the finite-size crossover.
    """
    low, high = delta_range
    if not (low < 1 - margin and 1 + margin < high):
        raise ValueError(
            f"delta_range {delta_range!r} and margin {margin!r} must leave room on both "
            f"sides of Delta = 1: delta_range[0] < 1 - margin and 1 + margin < delta_range[1]"
        )
    if n_samples % 2:
        raise ValueError(f"n_samples must be an even integer >= 2 (half per phase), got {n_samples!r}")
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(n_samples, generator=gen, dtype=torch.float64)
    half = n_samples // 2
    deltas = torch.cat([low + u[:half] * (1 - margin - low), 1 + margin + u[half:] * (high - 1 - margin)])
    order = torch.randperm(n_samples, generator=gen)
    deltas = deltas[order]
    labels = (deltas > CRITICAL_DELTA).long()
    return ground_states(n_qubits, deltas), labels, deltas


# The authors' quantum data (their code's data module, ``xxz_data``). Their states come from a
# precomputed file of 12-qubit ground states on a grid of Delta; the file and the grid's values
# are not in their repository, so the grid below is the course's: AUTHORS_GRID_POINTS values of
# Delta evenly over AUTHORS_DELTA_RANGE, which puts Delta = 1 inside the gap their indices leave.
AUTHORS_GRID_POINTS = 294
AUTHORS_DELTA_RANGE = (0.0, 1.5)
#: Their index slices per split and phase, each (start, stop) with step 2, so training and
#: validation sit at alternating grid points (41 + 41 and 42 + 42 states), none in the gap of
#: indices 189 to 198.
AUTHORS_SLICES = {"train": ((107, 189), (200, 282)), "val": ((106, 190), (199, 283))}
#: How the MLP is shown a state (the QNN sees the state itself, blind to any global phase).
REPRESENTATIONS = ("real", "gauge-fixed", "eigensolver-phase")
#: The states these functions take, (N, D) tensors, finite, real or complex.
STATES = Array("features", ndim=2)


@validate_params(n_qubits=Int(2, 12))
def authors_pair(n_qubits: int = 12) -> dict[str, torch.Tensor]:
    """The authors' design: ground states on their grid, labelled by phase (1: Delta > 1).

    Returns ``{"x_train" (82, 2**n), "y_train", "x_val" (84, 2**n), "y_val", "deltas_train",
    "deltas_val"}``, real float64 states as :func:`ground_states` returns them.

    >>> pair = authors_pair(4)
    >>> tuple(pair["x_train"].shape), int(pair["y_train"].sum()), tuple(pair["x_val"].shape)
    ((82, 16), 41, (84, 16))
    """
    deltas = torch.linspace(*AUTHORS_DELTA_RANGE, AUTHORS_GRID_POINTS, dtype=torch.float64)
    states = ground_states(n_qubits, deltas)
    out = {}
    for split, slices in AUTHORS_SLICES.items():
        idx = torch.cat([torch.arange(start, stop, 2) for start, stop in slices])
        out[f"x_{split}"], out[f"deltas_{split}"] = states[idx], deltas[idx]
        out[f"y_{split}"] = (deltas[idx] > CRITICAL_DELTA).long()
    return out


@validate_params(states=STATES, seed=SEED)
def global_phase(states: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Each state (N, D) times its own e^{i phi}, phi uniform in [0, 2 pi) from a generator seeded
    by ``seed``: complex128 (N, D). The same physical states, as a solver with a complex path may
    return them."""
    gen = torch.Generator().manual_seed(seed)
    phi = 2 * torch.pi * torch.rand(len(states), 1, generator=gen, dtype=torch.float64)
    return states.to(torch.complex128) * torch.polar(torch.ones_like(phi), phi)


@validate_params(states=STATES)
def fix_gauge(states: torch.Tensor) -> torch.Tensor:
    """One convention for the global phase: each state (N, D) divided by the phase of its
    largest-magnitude amplitude, so that amplitude is real and positive. Complex128 (N, D); on
    real states it fixes the sign. Amplitudes within 1e-9 (relative) of the largest count as
    tied and the first of them leads: symmetric states such as the two Neel configurations
    have equal magnitudes, and rounding must not pick between them.

    >>> fix_gauge(torch.tensor([[0.6, -0.8]], dtype=torch.float64)).real.tolist()
    [[-0.6, 0.8]]
    """
    z = states.to(torch.complex128)
    size = z.abs()
    tied = size >= (1 - 1e-9) * size.max(dim=1, keepdim=True).values
    lead = z.gather(1, tied.to(torch.int8).argmax(dim=1, keepdim=True))  # the first tied index
    return z * (lead.abs() / lead)


@validate_params(states=STATES, representation=Options(*REPRESENTATIONS), seed=SEED)
def represent(states: torch.Tensor, representation: str, seed: int = 0) -> torch.Tensor:
    """What the MLP reads of states (N, D): ``[Re psi | Im psi]`` (N, 2D), float64, as the
    authors' code feeds it, for ``representation``:

    - ``"real"``: the states as the eigensolver returns them (real, each with the sign it chose;
      the Im half is zero);
    - ``"gauge-fixed"``: after :func:`fix_gauge` (real again, every sign fixed);
    - ``"eigensolver-phase"``: after :func:`global_phase` with ``seed``.
    """
    z = {
        "real": lambda s: s.to(torch.complex128),
        "gauge-fixed": fix_gauge,
        "eigensolver-phase": lambda s: global_phase(s, seed),
    }[representation](states)
    return torch.cat([z.real, z.imag], dim=1)
