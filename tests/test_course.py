"""For instructors and learners: every exercise checked and listed, the API reference
complete, the Colab cell a no-op elsewhere, the student edition without solutions."""

import json
import re
import sys
import types
from pathlib import Path

import nbformat
import pytest
import yaml

from qrobust_lite.exercises import CHECKERS
from tests import test_exercises
from tests.test_book import ROOT, notebooks, toc_files

sys.path.insert(0, str(ROOT / "scripts"))
import student_edition


def exercise_labels():
    labels = {}
    for nb in notebooks():
        for cell in nbformat.read(nb, as_version=4).cells:
            for label in re.findall(r":label: ([\w-]+)", cell.source):
                labels[label] = nb.stem
    return labels


def test_every_exercise_has_a_checker_and_every_checker_an_exercise():
    assert set(exercise_labels()) == set(CHECKERS)


def test_every_checker_is_tested_with_its_reference_and_a_wrong_answer():
    references, wrong = set(), set()
    for name, test in vars(test_exercises).items():
        for mark in getattr(test, "pytestmark", []) if name.startswith("test_") else []:
            if mark.name != "parametrize":
                continue
            names, values = mark.args[0], list(mark.args[1])
            if names == "exercise":
                references |= set(values)
            elif names == "exercise,answer":
                references |= {v[0] for v in values}
            elif names == "exercise,answer,hint":
                wrong |= {v[0] for v in values}
    assert set(CHECKERS) <= references, sorted(set(CHECKERS) - references)
    assert set(CHECKERS) <= wrong, sorted(set(CHECKERS) - wrong)


def test_instructors_page_lists_every_exercise_with_its_chapter():
    page = (ROOT / "book" / "instructors.md").read_text()
    for label, chapter in exercise_labels().items():
        row = next((line for line in page.splitlines() if f"`{label}`" in line), None)
        assert row is not None, f"{label} missing from the instructors' page"
        assert f"{{doc}}`{chapter}`" in row, f"{label}: wrong chapter on the instructors' page"
    for stem in toc_files():
        # reference pages, not chapters: no exercises, no running time to plan for
        if Path(stem).name not in ("intro", "papers", "references", "instructors", "api", "paper_scale"):
            assert f"{{doc}}`{Path(stem).name}`" in page, f"{stem} has no running time on the instructors' page"


def test_api_reference_documents_every_module_and_links_its_chapter():
    page = (ROOT / "book" / "api.md").read_text()
    package = ROOT / "qrobust_lite"
    modules = sorted(
        [p.stem for p in package.glob("*.py") if p.stem != "__init__"]
        + [p.parent.name for p in package.glob("*/__init__.py")]
    )
    pages = {Path(stem).name for stem in toc_files()}
    sections = page.split("\n## ")[1:]
    documented = {re.search(r"automodule:: qrobust_lite\.(\w+)", s).group(1) for s in sections}
    assert documented == set(modules)
    for section in sections:
        links = re.findall(r"\{doc\}`(\w+)`", section.split("```")[0])
        assert links and set(links) <= pages, section.splitlines()[0]


def _run_install_cell(source, colab: bool):
    from IPython.core.inputtransformer2 import TransformerManager

    calls = []
    namespace = {}
    # IPython expands {NAME} in a magic's line from the user's namespace; so does this stand-in.
    shell = types.SimpleNamespace(run_line_magic=lambda magic, line: calls.append((magic, line.format(**namespace))))
    namespace["get_ipython"] = lambda: shell
    code = TransformerManager().transform_cell(source)
    saved = sys.modules.get("google.colab")
    if colab:
        sys.modules["google.colab"] = types.ModuleType("google.colab")
    else:
        sys.modules.pop("google.colab", None)
    try:
        exec(code, namespace)
    finally:
        sys.modules.pop("google.colab", None)
        if saved is not None:
            sys.modules["google.colab"] = saved
    return calls


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.name)
def test_colab_cell_installs_only_on_colab(nb):
    cell = next(c for c in nbformat.read(nb, as_version=4).cells if "colab-install" in c.metadata.get("tags", []))
    assert _run_install_cell(cell.source, colab=False) == []
    calls = _run_install_cell(cell.source, colab=True)
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert len(calls) == 1 and calls[0][0] == "pip" and f'"qrobust-lite @ git+{url}"' in calls[0][1]


def test_colab_cell_installs_from_the_source_the_variable_names(monkeypatch):
    """The learner's-machine test points the install at a local wheel this way."""
    cell = next(
        c for c in nbformat.read(notebooks()[0], as_version=4).cells if "colab-install" in c.metadata.get("tags", [])
    )
    monkeypatch.setenv("QROBUST_INSTALL_FROM", "file:///tmp/qrobust_lite-0.1.0-py3-none-any.whl")
    calls = _run_install_cell(cell.source, colab=True)
    assert calls == [("pip", 'install --quiet "qrobust-lite @ file:///tmp/qrobust_lite-0.1.0-py3-none-any.whl"')]


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    student_edition.main(["--out", str(out)])
    return out


def test_handout_notebooks_have_no_solutions_but_keep_exercises_and_checks(student):
    handouts = sorted((student / "notebooks").glob("*.ipynb"))
    assert [p.name for p in handouts] == sorted(p.name for p in notebooks())
    for path in handouts:
        cells = nbformat.read(path, as_version=4).cells
        tags = [t for c in cells for t in c.metadata.get("tags", [])]
        text = "\n".join(c.source for c in cells)
        assert "solution" not in tags and "{solution-start}" not in text and "{solution-end}" not in text
        assert "exercise-stub" in tags and 'check("' in text
        assert all(not c.get("outputs") for c in cells if c.cell_type == "code")


def test_student_book_runs_solutions_hidden_and_leaves_out_the_instructors_page(student):
    src = student / "src"
    toc = (src / "_toc.yml").read_text()
    assert "instructors" not in toc and "book/api" in toc
    assert not (src / "book" / "instructors.md").exists()
    for path in (src / "book").glob("*.ipynb"):
        cells = nbformat.read(path, as_version=4).cells
        for cell in cells:
            tags = cell.metadata.get("tags", [])
            if "solution" in tags:
                assert "remove-cell" in tags
            if cell.cell_type == "code" and cell.source.startswith("check("):
                assert "remove-output" in tags
        assert not any("{solution-start}" in c.source for c in cells)


def test_student_book_builds_with_every_link_resolving(tmp_path):
    """The student edition's book, built without executing notebooks (seconds): Sphinx with -W
    and the link check fail on any link to a page the student edition leaves out."""
    import subprocess

    student_edition.main(["--out", str(tmp_path), "--no-execute"])
    pages = "".join(p.read_text() for p in (tmp_path / "src" / "book").glob("*.md"))
    assert "{doc}`instructors`" not in pages and "<instructors>`" not in pages
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    build = subprocess.run(
        [
            str(jupyter_book),
            "build",
            str(tmp_path / "src"),
            "--path-output",
            str(tmp_path),
            "--all",
            "-W",
            "-n",
            "--keep-going",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    links = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_links.py"), str(tmp_path / "_build" / "html")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert links.returncode == 0, links.stdout + links.stderr


def test_links_to_the_instructors_page_become_plain_text_in_the_student_edition():
    text = "see the {doc}`instructors` page and {doc}`how to grade <instructors>`; {doc}`api` stays"
    assert student_edition.unlink_instructor_pages(text) == (
        "see the *For instructors* (instructors' edition) page and *how to grade* (instructors' edition); "
        "{doc}`api` stays"
    )


def test_student_edition_refuses_to_write_over_the_repository():
    with pytest.raises(SystemExit, match="would contain the repository"):
        student_edition.main(["--out", str(ROOT)])


def test_link_check_finds_missing_pages_anchors_and_launch_buttons(tmp_path):
    import check_links

    (tmp_path / "_sources").mkdir()
    (tmp_path / "_sources" / "a.ipynb").write_text("{}")
    (tmp_path / "a.html").write_text(
        '<a href="b.html#there">ok</a> <a href="b.html#nowhere">x</a>'
        '<a href="c.html">y</a> <a href="https://mybinder.org/v2">b</a>'
    )
    (tmp_path / "b.html").write_text('<h1 id="there">B</h1><a href="#there">self</a><a href="a.html">a</a>')
    problems = check_links.broken_links(tmp_path) + check_links.missing_launch_buttons(tmp_path)
    assert problems == [
        "a.html: b.html#nowhere (no such anchor)",
        "a.html: c.html (no such file)",
        "a.html: no colab.research.google.com button",
    ]


def test_page_check_finds_stray_stderr_but_not_deliberate_one(tmp_path):
    import check_links

    cell = (
        '<div class="cell {tag}docutils container"><div class="cell_output docutils container">'
        '<div class="output stderr highlight-myst-ansi notranslate"><div class="highlight">'
        "<pre><span></span>{text}</pre></div></div></div></div>"
    )
    (tmp_path / "a.html").write_text(
        cell.format(tag="", text="/home/x/circuits.py:130: RuntimeWarning: plugin missing")
        + cell.format(tag="tag_stderr-expected ", text="deliberate")
        + '<div class="output stream highlight-myst-ansi"><pre>stdout is fine</pre></div>'
    )
    assert check_links.stray_stderr(tmp_path) == [
        "a.html: stderr output: /home/x/circuits.py:130: RuntimeWarning: plugin missing"
    ]


def test_page_check_finds_saved_progress_bars_loopback_links_and_the_build_folder(tmp_path):
    import check_links

    widget = '{"value": "\\u200710/10\\u2007[00:04&lt;00:00,\\u2007 2.45it/s]"}'
    (tmp_path / "bar.html").write_text(f'<script type="application/vnd.jupyter.widget-state+json">{widget}</script>')
    (tmp_path / "text.html").write_text("<pre>training: 100%|##| 5/5 [00:01<00:00, 4.2it/s]</pre>")
    (tmp_path / "dask.html").write_text("<pre>Dask dashboard: http://127.0.0.1:36355/status</pre>")
    (tmp_path / "path.html").write_text("<pre>searched: /srv/build/qrobust/.cache</pre>")
    (tmp_path / "clean.html").write_text("<pre>3 seeds, 10/10 images, ratio 1:2, port 8786</pre>")
    problems = check_links.build_debris(tmp_path, ("/srv/build/qrobust",))
    assert sorted(p.split(":")[0] for p in problems) == ["bar.html", "dask.html", "path.html", "text.html"]


def test_page_check_finds_scripts_loaded_from_the_internet(tmp_path):
    import check_links

    (tmp_path / "a.html").write_text(
        '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'
        '<script defer src="_static/mathjax/tex-chtml.js"></script><a href="https://example.org">a link</a>'
    )
    assert check_links.remote_scripts(tmp_path) == [
        'a.html: loads "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js" from the internet'
    ]


def test_sliders_are_live_in_a_notebook_and_frames_in_the_built_book(monkeypatch, capsys):
    from qrobust_lite.course import sliders

    drawn = []
    monkeypatch.setenv(sliders.ENV_VAR, "1")
    assert sliders.sliders(lambda a: drawn.append(a), [{"a": 1}, {"a": 2}], a=(0, 3)) is None
    assert drawn == [1, 2] and "[static page]" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"frames name arguments that have no control: \['b'\]"):
        sliders.sliders(lambda a: None, [{"b": 1}], a=(0, 3))
    monkeypatch.delenv(sliders.ENV_VAR)
    live = sliders.sliders(lambda a: drawn.append(a), [{"a": 1}], a=(0, 3))
    assert hasattr(live, "widget") and "[static page]" not in capsys.readouterr().out


def test_progress_bars_follow_the_callers_switch_and_tqdm_disable(monkeypatch):
    from qrobust_lite.progress import bar

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert not bar(range(2), desc="x").disable and bar(range(2), enabled=False).disable
    monkeypatch.setenv("TQDM_DISABLE", "1")
    shown = bar(range(2), enabled=True)
    assert shown.disable and list(shown) == [0, 1]


def test_stated_chapter_times_come_from_the_measurement():
    """benchmarks/chapter_times.py --docs is the only writer of the times in the README and on
    the instructors' page; both must agree with the measurement it stored."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import chapter_times

    results = json.loads(chapter_times.RESULTS.read_text())
    assert list(results["chapters"]) == chapter_times.notebook_chapters()
    assert chapter_times.readme_block(results) in (ROOT / "README.md").read_text()
    page = (ROOT / "book" / "instructors.md").read_text().splitlines()
    for stem, row in results["chapters"].items():
        line = next(x for x in page if x.startswith(f"| {{doc}}`{stem}` |"))
        assert line.endswith(f"| {chapter_times.instructors_cell(row)} |"), line
    assert chapter_times.rounded(41) == "45 s" and chapter_times.rounded(146) == "2 min 30 s"


def test_the_package_map_names_every_module_in_the_api_reference_order():
    """``qrobust_lite/__init__.py`` and the API reference list the same modules, in one order, and
    every module's docstring names the book chapter (or page) that teaches or uses it."""
    import qrobust_lite

    package = ROOT / "qrobust_lite"
    modules = sorted(
        str(p.relative_to(package).with_suffix("")).replace("/", ".")
        for p in package.rglob("*.py")
        if p.name != "__init__.py"
    )
    in_map = re.findall(r":mod:`~qrobust_lite\.([\w.]+)`", qrobust_lite.__doc__)
    page = (ROOT / "book" / "api.md").read_text()
    in_api = re.findall(r"^## `qrobust_lite\.([\w.]+)`", page, flags=re.M)
    assert in_map == in_api
    chapter_modules = {m for m in modules if not m.startswith(("exercises.", "course."))}
    assert chapter_modules - {"exercises", "course"} <= set(in_map), chapter_modules - set(in_map)
    for m in modules:
        first = (package / (m.replace(".", "/") + ".py")).read_text().split('"""')[1]
        assert "book:" in first, f"qrobust_lite.{m}: its docstring does not name its chapter (book: ...)"


def test_the_grader_knows_each_exercise_as_the_chapter_and_the_instructors_page_do():
    """The answer names the grader takes are the ones the chapters' check cells pass, and the
    levels (default points) are the instructors' page's."""
    from qrobust_lite.exercises import ANSWERS, LEVELS

    passed = {}
    for nb in notebooks():
        for cell in nbformat.read(nb, as_version=4).cells:
            passed.update(re.findall(r'check\("([\w-]+)", (\w+)\)', cell.source) if cell.cell_type == "code" else [])
    assert passed == ANSWERS
    page = (ROOT / "book" / "instructors.md").read_text()
    table = {e: int(level) for e, level in re.findall(r"^\| `([\w-]+)` \| \{doc\}`\w+` \| (\d) \|", page, re.M)}
    assert table == LEVELS
