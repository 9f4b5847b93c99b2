"""Gather what ``make gpu-check`` needs on a CUDA machine that reaches no package registry.

Usage (``make gpu-wheels``): ``python scripts/gpu_wheels.py [--out .whl] [--data-root DIR]``

Such a machine (Python 3.12, x86-64) comes with its own PyTorch, NumPy, SciPy, scikit-learn,
Matplotlib and more (:data:`ON_THE_IMAGE`), but not PennyLane. This downloads, for CPython 3.12
on manylinux x86-64 and at the versions ``constraints.txt`` pins, the wheels of :data:`CARRIED`:
PennyLane and every need of it and of this package that the image lacks, no more. It also copies
the official MNIST training files (:data:`MNIST_FILES`, MD5-checked), which the check's
paper-scale slice needs, from ``--data-root`` or the package's own search
(:func:`qrobust_lite.data.candidate_roots`) to ``OUT/data``, and checks that everything fits what
a call may carry with the repository (:data:`LIMIT_MIB` together). There:

    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    PYTHONPATH=/tmp/site make gpu-check GPU_JSON=$OUT/gpu_check.json
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from qrobust_lite import data  # noqa: E402

#: The official files the paper slice reads (MNIST's training split), with their MD5.
MNIST_FILES = {name: md5 for name, md5 in data._IDX_FILES["mnist"].items() if name.startswith("train")}
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


def copy_mnist(out: Path, data_root: Path | None) -> Path | None:
    """Copy :data:`MNIST_FILES` from the first root that has them all, MD5-checked, to
    ``out/MNIST/raw``; return the root, or None where no root has them."""
    for _, root in data.candidate_roots(data_root):
        folder = root / "MNIST" / "raw"
        if all((folder / name).is_file() for name in MNIST_FILES):
            for name, md5 in MNIST_FILES.items():
                if hashlib.md5((folder / name).read_bytes()).hexdigest() != md5:
                    raise SystemExit(f"{folder / name} is not the official file (its MD5 differs)")
            target = out / "MNIST" / "raw"
            target.mkdir(parents=True, exist_ok=True)
            for name in MNIST_FILES:
                shutil.copyfile(folder / name, target / name)
            return root
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".whl", help="folder for the wheels (git ignores .whl/)")
    parser.add_argument(
        "--data-root", type=Path, help="where the official MNIST files are (default: the package's search)"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += ["--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(args.out), *pinned()]
    subprocess.run(command, check=True)
    wheels = sorted(args.out.glob("*.whl"))
    found = copy_mnist(args.out / "data", args.data_root)
    carried = wheels + sorted((args.out / "data").rglob("*-ubyte.gz"))
    total = sum(f.stat().st_size for f in carried) / 2**20
    for path in carried:
        print(f"{path.stat().st_size / 2**20:6.1f} MiB  {path.relative_to(args.out)}")
    if found is None:
        print("No official MNIST training files found (pass --data-root): the paper slice will fail, saying so.")
    else:
        print(f"MNIST's official training files (MD5-checked) from {found}")
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    tree = sum((ROOT / f).stat().st_size for f in files.decode().split("\0") if f and (ROOT / f).is_file()) / 2**20
    print(
        f"{total:6.1f} MiB in {len(wheels)} wheels and {len(carried) - len(wheels)} data files + {tree:.1f} MiB of "
        f"repository = {total + tree:.1f} MiB "
        f"(a call carries at most {LIMIT_MIB} MiB)"
    )
    return 0 if total + tree <= LIMIT_MIB else 1


if __name__ == "__main__":
    raise SystemExit(main())
