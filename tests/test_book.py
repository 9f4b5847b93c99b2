"""The book's shell: table of contents, configuration, exercises, launch settings, pins."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files():
    files = [TOC["root"]]
    for part in TOC.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def resolve(stem):
    for suffix in (".ipynb", ".md"):
        if (ROOT / (stem + suffix)).is_file():
            return ROOT / (stem + suffix)
    raise AssertionError(f"{stem} in _toc.yml has no .md or .ipynb file")


def notebooks():
    return [resolve(f) for f in toc_files() if resolve(f).suffix == ".ipynb"]


def test_every_toc_entry_is_a_real_page():
    for stem in toc_files():
        text = resolve(stem).read_text()
        words = len(re.findall(r"[A-Za-z]{3,}", text))
        assert words > 50 or "{bibliography}" in text, f"{stem} looks like an empty placeholder"


def test_build_executes_every_notebook_and_fails_on_errors():
    assert CONFIG["execute"]["execute_notebooks"] == "force"
    assert CONFIG["execute"]["allow_errors"] is False
    assert CONFIG["sphinx"]["config"]["nb_execution_raise_on_error"] is True
    assert "sphinx_exercise" in CONFIG["sphinx"]["extra_extensions"]
    assert all((ROOT / bib).is_file() for bib in CONFIG["bibtex_bibfiles"])


def test_launch_buttons_are_driven_by_one_repository_url():
    url = CONFIG["repository"]["url"]
    assert url.startswith("https://github.com/")
    assert CONFIG["launch_buttons"]["binderhub_url"] and CONFIG["launch_buttons"]["colab_url"]
    for nb in notebooks():
        cells = json.loads(nb.read_text())["cells"]
        install = [c for c in cells if "colab-install" in c["metadata"].get("tags", [])]
        assert len(install) == 1 and cells.index(install[0]) <= 1, f"{nb.name}: Colab install cell first"
        source = "".join(install[0]["source"])
        assert 'if "google.colab" in sys.modules' in source and "git+" in source
        assert f'"{url}"' in source, f"{nb.name}: the install URL differs from _config.yml's"


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.name)
def test_notebooks_have_checked_exercises_with_hidden_solutions(nb):
    cells = json.loads(nb.read_text())["cells"]
    text = ["".join(c["source"]) for c in cells]
    exercises = [m for t in text for m in re.findall(r":label: ([\w-]+)", t)]
    assert len(exercises) >= 2
    for label in exercises:
        assert any(f"{{solution-start}} {label}" in t and ":class: dropdown" in t for t in text), label
        assert any(f'check("{label}"' in t for t in text), f"{label} has no checker call"
    assert any("solution" in c["metadata"].get("tags", []) for c in cells)


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(nb):
    cells = json.loads(nb.read_text())["cells"]
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")


def test_pins_and_binder_environment():
    constraints = (ROOT / "constraints.txt").read_text().splitlines()
    for pin in (
        "torch==2.13.0",
        "torchvision==0.28.0",
        "pennylane==0.45.1",
        "pennylane_lightning==0.45.0",
        "jupyter-book==1.0.4.post1",
    ):
        assert pin in constraints
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert {"-c constraints.txt", "-r requirements.txt", "-e ."} <= set(pip)


def test_a_failing_cell_fails_the_build(tmp_path):
    """Jupyter Book 1 only warns on a failing cell unless configured; ours must fail."""
    import shutil
    import subprocess
    import sys

    import nbformat

    config = dict(CONFIG, bibtex_bibfiles=["refs.bib"], exclude_patterns=["_build"])
    (tmp_path / "refs.bib").write_text("@misc{x, title = {x}, year = {2026}}\n")
    config.pop("logo", None)
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: broken\n")
    shutil.copytree(ROOT / "book" / "_ext", tmp_path / "book" / "_ext")  # the config's local extension
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Broken"), nbformat.v4.new_code_cell("1 / 0")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "broken.ipynb")
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent))
    result = subprocess.run(
        [jb, "build", str(tmp_path), "--all", "-W", "-n", "--keep-going"], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "ZeroDivisionError" in result.stdout + result.stderr


def test_the_papers_page_covers_each_part_and_chapters_link_to_it():
    """Readers learn each paper's claim, known setup and the course's changes on one book page;
    no chapter sends them to a file outside the book."""
    assert "book/papers" in toc_files()
    page = (ROOT / "book" / "papers.md").read_text()
    for key in ("qi2025qplr", "tran2026patches", "chen2025poisoning"):
        assert f"{{cite:p}}`{key}`" in page, f"papers.md does not cite {key}"
    parts = re.split(r"^## ", page, flags=re.M)[1:]
    assert len(parts) == 3
    for part in parts:
        for heading in ("**Claim.**", "**Known setup", "**What the course does.**"):
            assert heading in part, f"{part.splitlines()[0]!r} lacks {heading}"
    for nb in notebooks():
        text = nb.read_text()
        assert "PAPERS.md" not in text, f"{nb.name} points to PAPERS.md, which is not in the book"
