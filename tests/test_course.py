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


def _git(repo: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A clone of this repository with the student branch published in it, as the maintainer
    does before pushing (the launch buttons open that branch)."""
    import subprocess

    clone = tmp_path_factory.mktemp("published") / "repo"
    subprocess.run(["git", "clone", "--quiet", "--shared", str(ROOT), str(clone)], check=True, timeout=120)
    student_edition.main(["--branch", "student", "--repo", str(clone)])
    return clone


def test_the_launch_buttons_open_the_published_student_branch(published):
    """Every chapter the buttons open is on the branch, as a hand-out: no solutions, no MyST
    left that Jupyter or Colab would show raw, the exercises and checkers kept; the rest of the
    repository (what Binder builds) is there; the instructors' page is not."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["branch"] == "student"
    files = set(_git(published, "ls-tree", "-r", "--name-only", "student").split())
    assert {"environment.yml", "requirements.txt", "constraints.txt", "qrobust_lite/__init__.py"} <= files
    assert "book/instructors.md" not in files
    for nb_path in notebooks():
        name = f"book/{nb_path.name}"
        assert name in files
        cells = nbformat.reads(_git(published, "show", f"student:{name}"), as_version=4).cells
        markdown = "\n".join(c.source for c in cells if c.cell_type == "markdown")
        tags = [t for c in cells for t in c.metadata.get("tags", [])]
        assert "solution" not in tags and "exercise-stub" in tags
        for raw in (":::", "{doc}", "{cite", "{exercise}", ":label:"):
            assert raw not in markdown, (name, raw)
        assert markdown.count("### Exercise: ") == sum(c.source.count(":::{exercise}") for c in notebook_cells(nb_path))
    readme = _git(published, "show", "student:README.md")
    assert readme.startswith("# qrobust-lite, student edition") and "make publish-student" in readme


def notebook_cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def test_publishing_again_changes_nothing_and_leaves_the_work_tree_alone(published):
    tip = _git(published, "rev-parse", "student")
    status = _git(published, "status", "--porcelain")
    student_edition.main(["--branch", "student", "--repo", str(published)])
    assert _git(published, "rev-parse", "student") == tip
    assert _git(published, "status", "--porcelain") == status
    assert _git(published, "rev-parse", "--abbrev-ref", "HEAD").strip() != "student"


def test_publishing_refuses_a_branch_it_did_not_make_and_the_checked_out_one(tmp_path):
    import subprocess

    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", "--shared", str(ROOT), str(clone)], check=True, timeout=120)
    _git(clone, "branch", "mine")
    with pytest.raises(SystemExit, match="was not made by this script"):
        student_edition.main(["--branch", "mine", "--repo", str(clone)])
    current = _git(clone, "rev-parse", "--abbrev-ref", "HEAD").strip()
    with pytest.raises(SystemExit, match="is the checked-out branch"):
        student_edition.main(["--branch", current, "--repo", str(clone)])
    with pytest.raises(SystemExit, match="not a valid branch name"):
        student_edition.main(["--branch", "a..b", "--repo", str(clone)])


def test_myst_becomes_plain_markdown_in_the_handouts():
    pages = {"primer": ("primer.ipynb", "A primer"), "api": ("api.md", "API")}
    cited = {"qi2025": "[Qi et al., 2025](https://arxiv.org/abs/1)", "b": "B, 2020"}
    text = (
        ":::{exercise} Born rule\n:label: primer-born\n\nWrite `f`.\n:::\n"
        "See {doc}`primer`, {doc}`the API <api>` and {doc}`instructors` {cite:p}`qi2025,b`."
    )
    assert student_edition.plain_markdown(text, pages, cited) == (
        "### Exercise: Born rule\n\nWrite `f`.\n"
        "See [A primer](primer.ipynb), [the API](api.md) and *For instructors* (instructors' edition) "
        "([Qi et al., 2025](https://arxiv.org/abs/1); B, 2020)."
    )
    with pytest.raises(ValueError, match="no such page"):
        student_edition.plain_markdown("{doc}`nowhere`", pages, cited)
    with pytest.raises(ValueError, match="not in book/references.bib"):
        student_edition.plain_markdown("{cite:p}`unknown`", pages, cited)


def test_link_check_finds_missing_pages_and_anchors(tmp_path):
    import check_links

    (tmp_path / "a.html").write_text(
        '<a href="b.html#there">ok</a> <a href="b.html#nowhere">x</a><a href="c.html">y</a>'
    )
    (tmp_path / "b.html").write_text('<h1 id="there">B</h1><a href="#there">self</a><a href="a.html">a</a>')
    assert check_links.broken_links(tmp_path) == [
        "a.html: b.html#nowhere (no such anchor)",
        "a.html: c.html (no such file)",
    ]


def test_launch_check_wants_both_buttons_on_the_student_branch_and_none_on_markdown_pages(tmp_path):
    import check_links

    (tmp_path / "_sources" / "book").mkdir(parents=True)
    for source in ("a.ipynb", "b.ipynb", "c.md", "c.ipynb"):  # c: a Markdown notebook (the theme adds c.ipynb)
        (tmp_path / "_sources" / "book" / source).write_text("{}")
    binder = "https://mybinder.org/v2/gh/o/r/{branch}?urlpath=tree/book/{page}"
    colab = "https://colab.research.google.com/github/o/r/blob/{branch}/book/{page}"
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.html").write_text(
        f'<a href="{binder.format(branch="student", page="a.ipynb")}">B</a>'
        f'<a href="{colab.format(branch="main", page="a.ipynb")}">C</a>'
    )
    (tmp_path / "book" / "b.html").write_text(f'<a href="{binder.format(branch="student", page="b.ipynb")}">B</a>')
    (tmp_path / "book" / "c.html").write_text(f'<a href="{colab.format(branch="student", page="c.md")}">C</a>')
    main_colab = colab.format(branch="main", page="a.ipynb")
    assert check_links.launch_button_problems(tmp_path, "student") == [
        f"book/a.html: {main_colab} does not open book/a.ipynb on branch 'student'",
        "book/b.html: no colab.research.google.com button",
        f"book/c.html: a Markdown page with a launch button ({colab.format(branch='student', page='c.md')})",
    ]
    assert check_links.launch_branch() == "student"


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


def test_page_check_finds_output_lines_wider_than_the_column_and_figures_without_alt_text(tmp_path):
    import check_links

    cell = '<div class="cell docutils container"><div class="cell_output docutils container">{}</div></div>'
    (tmp_path / "a.html").write_text(
        cell.format("<pre>" + "x" * 78 + "\n" + "&lt;" + "y" * 78 + "</pre>")
        + cell.format('<img alt="_images/ab12.png" src="_images/ab12.png"/><img alt="Accuracy" src="_images/c.png"/>')
        + "</section><pre>"  # code after the outputs, not an output: the reader scrolls it
        + "z" * 200
        + "</pre>"
    )
    assert check_links.wide_outputs(tmp_path, 78) == [f"a.html: 79 characters: <{'y' * 59}..."]
    assert check_links.figures_without_alt(tmp_path) == ["a.html: figure ab12.png has no alt text"]


def test_tables_show_as_markdown_in_a_notebook_and_as_text_when_printed():
    from qrobust_lite.course import tables

    t = tables.table(["condition", "a|b", "note"], [["clean", "0.5 ± 0.1", "x"]], caption="Accuracy")
    assert t._repr_markdown_() == (
        "Accuracy\n\n| condition | a\\|b | note |\n|:---|---:|:---|\n| clean | 0.5\u00a0±\u00a00.1 | x |"
    )
    assert str(t) == "Accuracy\ncondition        a|b  note\nclean      0.5 ± 0.1  x   "
    assert tables.table(["a"], [])._repr_markdown_() == "| a |\n|:---|"
    with pytest.raises(ValueError, match=r"rows\[0\] has 1 cells; the header has 2 columns"):
        tables.table(["a", "b"], [["only one"]])
    assert all(len(line) <= 30 for line in tables.wrap("word " * 40, bullet="  - ", width=30).splitlines())
