"""Where learners start: Colab and a plain wheel (the learner's-machine test), newer Pythons
(dependency resolution), and Binder (environment.yml). These reach the package registry, as
``make``'s own set-up does; nothing else."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_book import ROOT

BIN = Path(sys.executable).parent


def constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip()
    return pins


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_dependencies_resolve_for_linux_on_every_supported_python(python):
    """Resolution only (package metadata, no wheels): a 3.12 torch is a CUDA build of GBs."""
    result = subprocess.run(
        [
            str(BIN / "uv"),
            "pip",
            "compile",
            str(ROOT / "pyproject.toml"),
            "--python-version",
            python,
            "--python-platform",
            "x86_64-manylinux_2_28",
            "--no-header",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    resolved = {line.split("==")[0] for line in result.stdout.splitlines() if "==" in line}
    assert {"torch", "pennylane", "pennylane-lightning", "scikit-learn", "matplotlib"} <= resolved


def test_python_support_is_declared_for_3_11_to_3_13():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11"' in text
    for minor in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {minor}" in text
    torch = re.search(r'"torch([^"]*)"', text).group(1)
    assert "<" not in torch, "an upper bound on torch makes Colab download another torch"


def binder():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return conda, pip


def test_binder_pins_match_the_constraints():
    conda, pip = binder()
    makefile = (ROOT / "Makefile").read_text()
    python = re.search(r"PYTHON \?= python(3\.\d+)", makefile).group(1)
    assert f"python={python}" in conda, "Binder's Python differs from make's"
    pins = constraints()
    for line in conda + pip:
        match = re.match(r"([A-Za-z0-9_.-]+)\s*==?\s*([\w.+]+)$", line)
        if match and match.group(1) != "python":
            name = re.sub(r"[-_.]+", "-", match.group(1).lower())
            assert pins.get(name) == match.group(2), f"environment.yml pins {line}, constraints.txt {pins.get(name)}"
    assert {"-c constraints.txt", "-r requirements.txt", "-e ."} <= set(pip)
    assert any("download.pytorch.org/whl/cpu" in line for line in pip), "Binder needs the CPU torch index"


def test_binder_pip_section_installs_into_a_clean_venv(tmp_path):
    """Binder runs this pip section from the repository root. The CPU index is not reachable
    from here, so torch==2.13.0 comes from this machine's CPU wheel instead."""
    _, pip = binder()
    # conda writes this section to a file beside environment.yml, so its paths are relative to
    # the repository root; here the file lives elsewhere, so they are made absolute.
    absolute = lambda line: re.sub(r"^(-[cr]|-e)\s+(\S+)$", lambda m: f"{m[1]} {ROOT / m[2]}", line)  # noqa: E731
    lines = [absolute(line) for line in pip if "download.pytorch.org" not in line]
    (tmp_path / "binder.txt").write_text("\n".join(lines) + "\n")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(tmp_path / "binder.txt")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    check = subprocess.run(
        [str(python), "-c", "import qrobust_lite, torch, pennylane, jupyter_book; print(torch.__version__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "2.13.0+cpu"


def test_learner_machine_installs_the_wheel_from_the_colab_cell_and_runs_chapters():
    """scripts/learner_machine.py: a fresh venv with its own torch, the wheel installed by the
    first cell with google.colab simulated, the primer and one chapter of each Part at smoke
    scale, torch kept and no CUDA package pulled."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "learner_machine.py")], capture_output=True, text=True, timeout=1500
    )
    print(result.stdout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^OK: 4 chapters ran on Python 3\.11", result.stdout, re.M)
    assert "the install kept torch 2.13.0+cpu" in result.stdout
