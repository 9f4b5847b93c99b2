"""A learner's machine, for real: the wheel installed by a chapter's own Colab cell into a fresh
virtual environment that already has its own torch, then chapters run end to end.

Steps (each printed with its time):

1. Build the wheel from this checkout and check that the bundled data is inside it.
2. Create a virtual environment outside the repository with ``--python``.
3. Install what Colab already has before a chapter runs: torch (``--torch``, a CPU build by
   default) and the notebook kernel (ipykernel, nbclient). Nothing of the course.
4. Run the chapters (``--chapters``) in that environment, from a folder outside the repository,
   with ``google.colab`` simulated in the kernel and ``QROBUST_INSTALL_FROM`` pointing at the
   wheel: so the first cell's ``%pip install`` branch installs the wheel with its declared
   dependencies only (no constraints file), as on Colab. ``QROBUST_SCALE=smoke`` keeps each
   chapter to seconds.
5. Check that the install kept the preinstalled torch and pulled no CUDA package.

Usage: ``python scripts/learner_machine.py [--python python3.12] [--torch "torch"]``.
``make test`` runs it with Python 3.11 and the CPU torch; ``make test-matrix`` with 3.12 and
3.13 and the registry's torch. Exit status 1 on any failure, with the step that failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The primer and one chapter of each Part.
CHAPTERS = ("primer", "soft_labels_calibration", "attacking_quantum_classifier", "poisoning_classical_vs_quantum")
PREINSTALLED = ("ipykernel", "nbclient", "nbformat")
# Runs inside the learner's environment: execute each notebook in a fresh kernel.
RUNNER = """
import sys, time, nbformat
from nbclient import NotebookClient
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}}).execute()
    print(f"  {path.rsplit('/', 1)[-1]}: ran in {time.perf_counter() - start:.0f} s", flush=True)
"""
# Colab imports google.colab before the first cell; this IPython startup file does the same.
FAKE_COLAB = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"


def step(message: str, command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``command``, print its time; raise SystemExit with its output if it fails."""
    start = time.perf_counter()
    print(f"- {message} ...", flush=True)
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-6000:]
        raise SystemExit(f"FAILED: {message}\n$ {' '.join(command)}\n{tail}")
    print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return result


def find_python(spec: str) -> str:
    """An interpreter: a path, a command on PATH, or a version such as ``3.12`` (also looked
    up among pyenv's installed versions)."""
    if re.fullmatch(r"3\.\d+", spec):
        candidates = [
            shutil.which(f"python{spec}"),
            *map(str, sorted(Path.home().glob(f".pyenv/versions/{spec}.*/bin/python{spec}"))),
        ]
        # a pyenv shim is on PATH even where that version is not selected: it runs but fails
        found = next(
            (c for c in candidates if c and subprocess.run([c, "-c", ""], capture_output=True).returncode == 0), None
        )
        if found is None:
            raise SystemExit(f"FAILED: --python {spec}: no python{spec} on PATH or under ~/.pyenv/versions")
        return found
    return spec


def build_wheel(out: Path, python: str) -> Path:
    """Build from a copy of the files git would commit, so the checkout gets no build folders."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    source = out.parent / "source"
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    step("build the wheel", [python, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)])
    wheel = next(out.glob("qrobust_lite-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    bundled = [n for n in names if n.startswith("qrobust_lite/bundled/")]
    if "qrobust_lite/bundled/checksums.json" not in bundled or len(bundled) < 7:
        raise SystemExit(f"FAILED: the wheel lacks the bundled data: {bundled}")
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "qrobust_lite").rglob("*.py")}
    if modules - set(names):
        raise SystemExit(f"FAILED: the wheel lacks package modules: {sorted(modules - set(names))}")
    print(f"  {wheel.name}: {len(names)} files, bundled data {len(bundled)} files")
    return wheel


def installed(python: Path) -> dict[str, str]:
    """``{name: version}`` of every distribution in the environment of ``python``."""
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True, check=True
    ).stdout
    return {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(out)}


def learner_environment(work: Path) -> dict[str, str]:
    """The environment a chapter runs in: nothing from the repository or its .venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("JUPYTER_PATH", "PYTHONPATH", "VIRTUAL_ENV", "QROBUST_DATA", "QROBUST_DEVICE")
    }
    ipython = work / "ipython"
    (ipython / "profile_default" / "startup").mkdir(parents=True)
    (ipython / "profile_default" / "startup" / "00-colab.py").write_text(FAKE_COLAB)
    env.update(
        IPYTHONDIR=str(ipython),
        JUPYTER_CONFIG_DIR=str(work / "jupyter-config"),
        JUPYTER_DATA_DIR=str(work / "jupyter-data"),
        XDG_CACHE_HOME=str(work / "cache"),
        MPLBACKEND="Agg",
        QROBUST_SCALE="smoke",
        PIP_NO_INPUT="1",
    )
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python", default=sys.executable, help="the learner's Python: a path, a command or a version such as 3.12"
    )
    parser.add_argument(
        "--torch", default="torch==2.13.0", help="what the learner's machine already has (pip requirement)"
    )
    parser.add_argument("--chapters", nargs="+", default=list(CHAPTERS), choices=None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    unknown = [c for c in args.chapters if not (ROOT / "book" / f"{c}.ipynb").is_file()]
    if unknown:
        parser.error(f"--chapters: no book/<name>.ipynb for {unknown}")
    interpreter = find_python(args.python)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="qrobust-learner-"))
    try:
        wheel = build_wheel(work / "dist", sys.executable)
        venv = work / "venv"
        step(f"create a virtual environment with {interpreter}", [interpreter, "-m", "venv", str(venv)])
        python = venv / "bin" / "python"
        version = step("read its Python version", [str(python), "-c", "import sys; print(sys.version.split()[0])"])
        print(f"  Python {version.stdout.strip()}")
        step(
            f"preinstall the machine's own torch ({args.torch}) and notebook kernel",
            [str(python), "-m", "pip", "install", "--quiet", args.torch, *PREINSTALLED],
        )
        before = installed(python)
        chapters = work / "chapters"
        chapters.mkdir()
        for name in args.chapters:
            shutil.copy(ROOT / "book" / f"{name}.ipynb", chapters)
        env = learner_environment(work)
        env["QROBUST_INSTALL_FROM"] = wheel.as_uri()
        runner = work / "run_chapters.py"
        runner.write_text(RUNNER)
        result = step(
            f"run {len(args.chapters)} chapters; the first cell installs the wheel",
            [str(python), str(runner), *[str(chapters / f"{c}.ipynb") for c in args.chapters]],
            cwd=chapters,
            env=env,
        )
        print(result.stdout.rstrip())
        after = installed(python)
        if after.get("qrobust-lite") is None:
            raise SystemExit("FAILED: the Colab cell did not install qrobust-lite")
        if after.get("torch") != before.get("torch"):
            raise SystemExit(f"FAILED: the install replaced torch {before.get('torch')} by {after.get('torch')}")
        cuda = sorted(set(n for n in after if n.startswith("nvidia-")) - set(before))
        if cuda:
            raise SystemExit(f"FAILED: the install pulled CUDA packages: {cuda}")
        added = sorted(set(after) - set(before))
        print(f"- the install kept torch {after['torch']} and added {len(added)} packages, no CUDA ones")
        print(
            f"OK: {len(args.chapters)} chapters ran on Python {version.stdout.strip()} "
            f"in {time.perf_counter() - started:.0f} s in all"
        )
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
