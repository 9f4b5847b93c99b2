"""Gather the wheels ``make gpu-check`` needs on a CUDA machine that reaches no package registry.

Usage (``make gpu-wheels``): ``python scripts/gpu_wheels.py [--out .whl]``

Such a machine (Python 3.12, x86-64) comes with its own PyTorch, NumPy, SciPy, scikit-learn,
Matplotlib and more (:data:`ON_THE_IMAGE`), but not PennyLane. This downloads, for CPython 3.12
on manylinux x86-64 and at the versions ``constraints.txt`` pins, the wheels of :data:`CARRIED`:
PennyLane and every need of it and of this package that the image lacks, no more, and checks that
they fit what a call may carry with the repository (:data:`LIMIT_MIB` together). There:

    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    PYTHONPATH=/tmp/site make gpu-check
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Distributions the check needs that such a machine lacks (``tests/test_benchmarks.py`` checks
#: that these and :data:`ON_THE_IMAGE` cover every need of the package and of PennyLane).
CARRIED = (
    "pennylane",
    "autoray",
    "autograd",
    "appdirs",
    "cachetools",
    "rustworkx",
    "tomlkit",
    "diastatic-malt",
    "gast",
    "termcolor",
    "platformdirs",
)
#: What the machine's image holds of those needs (the device library's KINDS.md, 2026-11-17).
ON_THE_IMAGE = (
    "torch",
    "numpy",
    "scipy",
    "networkx",
    "requests",
    "typing-extensions",
    "packaging",
    "scikit-learn",
    "threadpoolctl",
    "tqdm",
    "matplotlib",
    "pillow",
)
#: Needs the check never imports, and why.
NOT_NEEDED = {
    "ipywidgets": "imported only by course.sliders, in a running notebook",
    "pennylane-lightning": "its devices are probed, never required (24 MiB: it would not fit beside the repository)",
    "scipy-openblas32": "pennylane-lightning's",
}
#: What one call may carry, the repository included.
LIMIT_MIB = 64
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (17, 27, 28)] + ["manylinux2014_x86_64", "manylinux1_x86_64"]


def pinned(names=CARRIED, constraints: Path = ROOT / "constraints.txt") -> list[str]:
    """``name==version`` for each of ``names``, the version ``constraints`` pins."""
    pins = {}
    for line in constraints.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if m:
            pins[re.sub(r"[-_.]+", "-", m[1]).lower()] = m[2]
    missing = [n for n in names if re.sub(r"[-_.]+", "-", n).lower() not in pins]
    if missing:
        raise SystemExit(f"constraints.txt pins no version of {missing}")
    return [f"{n}=={pins[re.sub(r'[-_.]+', '-', n).lower()]}" for n in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".whl", help="folder for the wheels (git ignores .whl/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += ["--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(args.out), *pinned()]
    subprocess.run(command, check=True)
    wheels = sorted(args.out.glob("*.whl"))
    total = sum(w.stat().st_size for w in wheels) / 2**20
    for wheel in wheels:
        print(f"{wheel.stat().st_size / 2**20:6.1f} MiB  {wheel.name}")
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    tree = sum((ROOT / f).stat().st_size for f in files.decode().split("\0") if f and (ROOT / f).is_file()) / 2**20
    print(
        f"{total:6.1f} MiB in {len(wheels)} wheels + {tree:.1f} MiB of repository = {total + tree:.1f} MiB "
        f"(a call carries at most {LIMIT_MIB} MiB)"
    )
    return 0 if total + tree <= LIMIT_MIB else 1


if __name__ == "__main__":
    raise SystemExit(main())
