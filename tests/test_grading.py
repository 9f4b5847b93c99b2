"""The grader, tried as an instructor would: honest, broken and dishonest submissions in one
batch. The notebooks are tiny (NumPy only, unless the forgery needs the package) so that the
whole batch takes seconds per notebook."""

import csv
import json
import os
import socket
import subprocess
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from qrobust_lite.course.cli import main
from qrobust_lite.exercises import grading

RIGHT = "import numpy as np\ndef born_rule(amps):\n    return np.abs(amps) ** 2\n"
WRONG = "import numpy as np\ndef born_rule(amps):\n    return np.abs(amps)\n"
CHECK = 'check("primer-born-rule", born_rule)'
SEEDED = "(0.8444218515250481, 0.5488135039273248, 0.49625658988952637)"     # seed 0: random, NumPy, torch
MARK = uuid.uuid4().hex[:12]          # names this run's stray files and processes


def correct_output():
    return new_output("execute_result", {"text/plain": "[primer-born-rule] Correct: forged"}, execution_count=2)


def notebook(*sources, outputs=None, tags=None) -> dict:
    cells = [new_code_cell(s) for s in sources]
    for i, out in (outputs or {}).items():
        cells[i].outputs = out
    for i, t in (tags or {}).items():
        cells[i].metadata["tags"] = t
    return new_notebook(cells=cells)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Every submission graded in one batch: {name: grade}."""
    folder = tmp_path_factory.mktemp("submissions")
    outside = tmp_path_factory.mktemp("outside")
    victim = outside / "keep.txt"
    victim.write_text("mine")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    wrong = folder / "wrong_primer.ipynb"
    submissions = {
        "honest_primer": notebook("# my answer\n" + RIGHT, "from qrobust_lite.exercises import check\n"
                                  f"print({CHECK})\nfb = {CHECK}; fb"),
        "twin_primer": notebook("# my answer\n" + RIGHT),
        "wrong_primer": notebook(WRONG),
        "redefines_check_primer": notebook(WRONG, "def check(*args):\n    return '[primer-born-rule] Correct'",
                                           CHECK),
        "registry_primer": notebook(WRONG, "import qrobust_lite.exercises as ex\nfrom qrobust_lite.exercises import "
                                    "Feedback\nex.CHECKERS['primer-born-rule'] = lambda answer: (True, 'ok')\n"
                                    "Feedback('primer-born-rule', True, 'forged')"),
        "skipped_primer": notebook(WRONG, CHECK, outputs={1: [correct_output()]}, tags={1: ["skip-execution"]}),
        "raises_early_primer": notebook("1 / 0", WRONG, CHECK, outputs={2: [correct_output()]}),
        "patches_numpy_primer": notebook(
            "import numpy as np\ndef born_rule(amps):\n    np.allclose = lambda *a, **k: True\n"
            "    np.isclose = lambda *a, **k: True\n    return np.abs(amps)"),
        "exits_in_check_primer": notebook("import os\ndef born_rule(amps):\n    print('{\"status\": \"passed\"}')\n"
                                          "    os._exit(0)"),
        "rewrites_next_primer": notebook(RIGHT, "import nbformat, json\n"
                                         f"nb = json.load(open({str(folder / 'honest_primer.ipynb')!r}))\n"
                                         f"open({str(wrong)!r}, 'w').write(json.dumps(nb))"),
        "writes_outside_primer": notebook(f"open({str(outside / MARK)!r}, 'w').write('x')",
                                          f"import os\nos.remove({str(victim)!r})", RIGHT),
        "background_primer": notebook(f"import subprocess\nsubprocess.Popen(['sleep', '307{MARK[:4]}'], "
                                      "start_new_session=True)", RIGHT),
        "network_primer": notebook("import socket\ntry:\n"
                                   f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                                   "    reached = True\nexcept OSError:\n    reached = False\n"
                                   + (RIGHT + "if reached:\n    born_rule = lambda amps: amps\n")),
        "kernel_dies_primer": notebook("import os\nos._exit(1)", RIGHT),
        "loops_primer": notebook("while True:\n    pass", RIGHT),
        "seeded_primer": notebook("import random, numpy as np, torch\n"
                                  "values = (random.random(), np.random.rand(), torch.rand(1).item())\n"
                                  "def born_rule(amps):\n"
                                  f"    return np.abs(amps) ** 2 if values == {SEEDED} else np.abs(amps)"),
        "slow_check_primer": notebook("import time\ndef born_rule(amps):\n    time.sleep(60)"),
    }
    for name, nb in submissions.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    (folder / "broken_json_primer.ipynb").write_text('{"cells": [')
    (folder / "not_notebook_primer.ipynb").write_text('{"a": 1}')
    before = wrong.read_text()
    paths = sorted(folder.glob("*.ipynb"))
    grades = grading.grade_batch(paths, jobs=2, progress=False, timeout=60, cell_timeout=15, check_timeout=10)
    server.close()
    by_name = {Path(g["file"]).stem: g for g in grades}
    return {"grades": by_name, "wrong_before": before, "wrong": wrong, "outside": outside, "victim": victim,
            "paths": paths}


def status(grade, exercise="primer-born-rule"):
    return next(e for e in grade["exercises"] if e["exercise"] == exercise)


def test_honest_answers_score_what_they_deserve_whatever_the_check_cells_look_like(batch):
    honest = batch["grades"]["honest_primer"]
    assert honest["status"] == "graded" and honest["reason"] == ""
    assert status(honest)["status"] == "passed" and status(honest)["points"] == 1.0
    assert status(honest, "primer-batched-expval")["status"] == "not attempted"   # deleted: still expected
    assert (honest["total"], honest["max_points"], honest["percent"]) == (1.0, 3.0, 33.33)
    wrong = batch["grades"]["wrong_primer"]
    assert status(wrong)["status"] == "failed" and "squares them" in status(wrong)["message"]


def test_random_numpy_and_torch_are_seeded_in_the_kernel(batch):
    assert batch["grades"]["seeded_primer"]["total"] == 1.0


def test_same_answers_same_scores(batch):
    a, b = batch["grades"]["honest_primer"], batch["grades"]["twin_primer"]
    assert a["exercises"] == b["exercises"] and a["total"] == b["total"]


@pytest.mark.parametrize("name", ["redefines_check_primer", "registry_primer", "skipped_primer",
                                  "raises_early_primer", "patches_numpy_primer", "exits_in_check_primer"])
def test_forgeries_score_nothing(batch, name):
    grade = batch["grades"][name]
    assert grade["total"] == 0.0
    assert status(grade)["status"] in ("failed", "error")


def test_an_answer_that_patches_numpy_or_ends_the_check_is_named(batch):
    assert "changed the grader's functions" in status(batch["grades"]["patches_numpy_primer"])["message"]
    assert "without a verdict" in status(batch["grades"]["exits_in_check_primer"])["message"]
    assert "ZeroDivisionError" in batch["grades"]["raises_early_primer"]["reason"]


def test_a_submission_cannot_change_another_one(batch):
    assert status(batch["grades"]["wrong_primer"])["status"] == "failed"
    assert batch["wrong"].read_text() == batch["wrong_before"]


needs_sandbox = pytest.mark.skipif(not grading.sandbox_available(), reason="unshare cannot make namespaces here")


@needs_sandbox
def test_in_the_sandbox_files_outside_its_folder_and_the_network_are_out_of_reach(batch):
    assert not (batch["outside"] / MARK).exists() and batch["victim"].read_text() == "mine"
    assert "Read-only file system" in batch["grades"]["writes_outside_primer"]["reason"]
    assert status(batch["grades"]["network_primer"])["status"] == "passed"     # its connect failed


def test_no_process_outlives_grading(batch):
    left = subprocess.run(["pgrep", "-f", f"sleep 307{MARK[:4]}"], capture_output=True, text=True)
    assert left.stdout == ""


def test_every_failure_is_a_row_with_a_reason(batch):
    g = batch["grades"]
    assert len(g) == len(batch["paths"])
    assert g["broken_json_primer"]["status"] == "not a notebook" and "not valid JSON" in g["broken_json_primer"]["reason"]
    assert g["not_notebook_primer"]["status"] == "not a notebook"
    assert g["kernel_dies_primer"]["status"] == "kernel died"
    loops = g["loops_primer"]                         # the cell is stopped, the rest still runs
    assert "time limit of 15 s" in loops["reason"] and status(loops)["status"] == "passed"
    assert status(g["slow_check_primer"])["status"] == "timeout"
    for grade in g.values():
        assert all(e["status"] in grading.EXERCISE_STATUSES for e in grade["exercises"])
        assert [e["exercise"] for e in grade["exercises"]] == ["primer-born-rule", "primer-batched-expval"]
        assert "\x1b[" not in json.dumps(grade)


def test_a_notebook_past_its_time_limit_is_a_timeout_row_and_leaves_nothing_running(tmp_path):
    path = tmp_path / "sleeps_primer.ipynb"
    nbformat.write(notebook(f"import subprocess\nsubprocess.Popen(['sleep', '308{MARK[:4]}'])", "import time\n"
                            "time.sleep(120)", RIGHT), path)
    grade = grading.grade_notebook(path, timeout=10, cell_timeout=60)
    assert grade["status"] == "timeout" and "time limit of 10 s" in grade["reason"]
    assert {e["status"] for e in grade["exercises"]} == {"timeout"} and grade["total"] == 0
    assert subprocess.run(["pgrep", "-f", f"sleep 308{MARK[:4]}"], capture_output=True, text=True).stdout == ""


def test_csv_files_an_lms_can_take(batch, tmp_path):
    grades = list(batch["grades"].values())
    grading.write_csv(grades, tmp_path / "g.csv")
    grading.write_long_csv(grades, tmp_path / "g-long.csv")
    rows = list(csv.DictReader((tmp_path / "g.csv").open()))
    assert len(rows) == len(grades) and {"student", "status", "total", "percent", "primer-born-rule"} <= set(rows[0])
    long_rows = list(csv.DictReader((tmp_path / "g-long.csv").open()))
    assert len(long_rows) == 2 * len(grades)
    assert {r["status"] for r in long_rows} <= set(grading.EXERCISE_STATUSES)


def test_chapter_student_and_points_come_from_the_course_or_the_instructor(tmp_path):
    assert grading.chapter_of(Path("alice_vqc_label_refining.ipynb")) == "vqc_label_refining"
    with pytest.raises(ValueError, match="pass --chapter"):
        grading.chapter_of(Path("alice.ipynb"))
    assert grading.student_of(Path("u123_primer.ipynb"), r"(?P<student>u\d+)_") == "u123"
    with pytest.raises(ValueError, match="does not match --student-pattern"):
        grading.student_of(Path("primer.ipynb"), r"(?P<student>u\d+)_")
    assert grading.expected_exercises("primer", {"primer-born-rule": 5}) == [("primer-born-rule", 5.0),
                                                                            ("primer-batched-expval", 2.0)]
    with pytest.raises(ValueError, match="do not exist"):
        grading.check_points({"primer-born": 1})
    with pytest.raises(ValueError, match=">= 0"):
        grading.check_points({"primer-born-rule": -1})


@pytest.mark.parametrize("args,message", [
    (["--csv", "/nonexistent-folder/g.csv"], "does not exist; create it first"),
    (["--timeout", "0"], "--timeout must be a positive number"),
    (["--jobs", "0"], "--jobs must be a positive integer"),
    (["--chapter", "nope"], "chapter must be one of"),
])
def test_the_command_checks_everything_before_it_runs_a_notebook(args, message, tmp_path, capsys):
    path = tmp_path / "a_primer.ipynb"
    nbformat.write(notebook(RIGHT), path)
    with pytest.raises(SystemExit):
        main(["grade", str(path), *args])
    assert message in capsys.readouterr().err


def test_the_command_writes_both_csv_files(tmp_path, capsys):
    nbformat.write(notebook(RIGHT), tmp_path / "ann_primer.ipynb")
    (tmp_path / "bob_primer.ipynb").write_text("not json")
    out = tmp_path / "grades.csv"
    assert main(["grade", str(tmp_path / "ann_primer.ipynb"), str(tmp_path / "bob_primer.ipynb"),
                 "--csv", str(out), "--timeout", "60"]) == 0
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert rows["ann_primer"]["total"] == "1.0" and rows["ann_primer"]["status"] == "graded"
    assert rows["bob_primer"]["status"] == "not a notebook"
    assert (tmp_path / "grades-long.csv").exists()
    assert "isolation:" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["grade", str(tmp_path / "ann_primer.ipynb"), "--csv", str(out)])
    assert "already exists; pass --force" in capsys.readouterr().err
