"""The ``qrobust-lite`` command: ``qrobust-lite doctor`` reports what this machine will use."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import sys
import warnings

import torch

from . import backend, data


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _torchvision_status() -> str:
    try:
        importlib.import_module("torchvision")
    except Exception as err:  # a broken build raises RuntimeError, not ImportError
        return f"not importable ({type(err).__name__}: {str(err).splitlines()[0]}); qrobust-lite does not need it"
    return f"importable, {_version('torchvision')}"


def doctor_report() -> str:
    """The doctor's report as text: versions, device and why, data sources, threads, GPU."""
    lines = ["qrobust-lite doctor", "", "Versions"]
    lines.append(f"  {'python':<24}{platform.python_version()} ({sys.executable})")
    for dist in ("qrobust-lite", "torch", "pennylane", "pennylane-lightning", "pennylane-lightning-gpu"):
        lines.append(f"  {dist:<24}{_version(dist)}")
    lines.append(f"  {'torchvision':<24}{_torchvision_status()}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reason is printed below instead
        choice = backend.choose_device(8)
    lines += ["", "Quantum device (for an 8-qubit circuit)",
              f"  {choice.name}, diff_method={choice.diff_method}",
              f"  why: {choice.reason}",
              f"  override: ${backend.ENV_VAR}={os.environ.get(backend.ENV_VAR, '(unset)')}",
              "  circuit kit: " + ("qrobust_lite fast path (torch, exact; see the book's Performance "
                                   "appendix)" if choice.name == "default.qubit"
                                   else f"PennyLane QNodes on {choice.name}")]
    lines += ["", "Data sources (searched in this order)"]
    for label, path in data.candidate_roots():
        lines.append(f"  {label:<18}{path}")
    for name in data.DATASETS:
        found = data.available_sources(name, "train")
        lines.append(f"  {name:<18}{found[0] if found else 'none: pass root= to a local copy'}")
    lines += ["", "Compute",
              f"  torch threads     {torch.get_num_threads()} (of {os.cpu_count()} CPUs)"]
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        lines.append(f"  GPU               {names}")
    else:
        lines.append("  GPU               none visible to torch (CPU build or no CUDA device)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qrobust-lite`` console script."""
    parser = argparse.ArgumentParser(prog="qrobust-lite", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="versions, the quantum device chosen and why, data sources, threads, GPU")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        print(doctor_report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
