"""The qrobust-lite console script."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qrobust_lite.course.cli import doctor_report, main


def test_doctor_reports_versions_device_reason_data_and_compute():
    report = doctor_report()
    for expected in (
        "pennylane",
        "torch",
        "Quantum device",
        "why:",
        "Data sources",
        "mnist",
        "bundled subset",
        "torch threads",
        "GPU",
        "circuit kit:",
        "Speed now",
        "torch thread(s); other processes kept",
    ):
        assert expected in report
    ratio = re.search(r"default\.qubit [\d,]+: ([\d.]+)x \(pairs ([\d.]+)-([\d.]+)x\)", report)
    assert ratio and float(ratio[2]) <= float(ratio[1]) <= float(ratio[3])


def test_console_script_runs():
    exe = Path(sys.executable).with_name("qrobust-lite")
    command = [str(exe)] if exe.exists() else [shutil.which("qrobust-lite")]
    out = subprocess.run(command + ["doctor"], capture_output=True, text=True, check=True)
    assert "why:" in out.stdout


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["cure"])
    assert exit_.value.code == 2
    assert "invalid choice: 'cure'" in capsys.readouterr().err


def test_run_refuses_to_overwrite_and_reports_missing_full_data(tmp_path, capsys, monkeypatch):
    from qrobust_lite import data

    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "cache_dir", lambda: tmp_path / "no-cache")
    (tmp_path / "label_refining.json").write_text("{}")
    with pytest.raises(SystemExit):
        main(["run", "label-refining", "--out", str(tmp_path)])
    assert "already holds label_refining.json; pass --force" in capsys.readouterr().err
    assert (tmp_path / "label_refining.json").read_text() == "{}"
    code = main(["run", "label-refining", "--scale", "full", "--out", str(tmp_path / "new")])
    assert code == 2
    assert "bundled subset holds 500" in capsys.readouterr().err


def test_run_writes_results_and_figures(tmp_path, monkeypatch):
    import json

    from qrobust_lite import scales

    monkeypatch.setitem(
        scales.EXPERIMENTS["label_refining"],
        "default",
        {
            "n_train": 100,
            "n_test": 50,
            "seeds": (0, 1),
            "epochs": 1,
            "vqc_epochs": 1,
            "smoothings": (0.1,),
            "temperatures": (1.0,),
            "mixes": (0.2, 0.5),
        },
    )
    assert main(["run", "label-refining", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "label_refining.json").read_text())
    assert set(saved["results"]) == {"mnist", "fashion_mnist"}
    mnist = saved["results"]["mnist"]
    assert "best_relative_gain_over_one_hot" in mnist
    assert mnist["selected"]["quantum-refined"]["mix"] in (0.2, 0.5) and mnist["config"]["mixes"] == [0.2, 0.5]
    assert set(mnist["tradeoff"]) == {
        "one-hot",
        "temperature scaling",
        "label smoothing (eps 0.1)",
        "quantum-refined (T 1, mix 0.2)",
        "quantum-refined (T 1, mix 0.5)",
    }
    assert set(mnist["robust_and_calibrated"]) == {"one-hot", "label smoothing"}
    for figure in ("ece", "tradeoff"):
        assert (tmp_path / f"label_refining_fashion_mnist_{figure}.png").stat().st_size > 1000
    assert saved["wall_seconds"] > 0 and saved["version"] and "CPUs" in saved["machine"]
    assert len(list((tmp_path / "cache").glob("*.json"))) == 4  # 2 datasets x 2 seeds, one file per run


def test_every_experiment_runs_through_the_runner_and_names_its_files_once():
    from qrobust_lite.course import cli

    assert cli.output_files("label-refining", ["mnist"]) == {
        "json": "label_refining.json",
        "mnist_accuracy": "label_refining_mnist_accuracy.png",
        "mnist_ece": "label_refining_mnist_ece.png",
        "mnist_tradeoff": "label_refining_mnist_tradeoff.png",
    }
    assert cli.output_files("poisoning", ["mnist", "spin"]) == {"json": "poisoning.json", "": "poisoning.png"}
    assert cli.output_files("unlearning", ["spin"]) == {"json": "unlearning.json", "spin": "unlearning_spin.png"}
    assert cli.output_files("label-refining-paper", ["mnist"]) == {
        "json": "label_refining_paper.json",
        "summary": "summary.json",
        "mnist": "label_refining_paper_mnist.png",
    }
    assert set(cli.RUNNERS) == {"label-refining", "label-refining-paper", "quantum-patches", "poisoning", "unlearning"}


def test_run_quantum_patches_writes_results_and_figures(tmp_path, monkeypatch):
    import json

    from qrobust_lite import defences, scales

    monkeypatch.setitem(
        scales.EXPERIMENTS["quantum_patches"],
        "default",
        {
            "n_train": 40,
            "n_test": 20,
            "seeds": (0, 1),
            "epochs": 1,
            "model": "quanvolution",
            "epsilons": (8 / 255,),
            "attack_names": ("PGD", "PGD-restart"),
        },
    )
    assert main(["run", "quantum-patches", "--datasets", "mnist", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "quantum_patches.json").read_text())
    mnist = saved["results"]["mnist"]
    assert set(saved["results"]) == {"mnist"} and mnist["config"]["model"] == "quanvolution"
    assert {r["defence"] for r in mnist["runs"]} == {"none", "quantum patches", "co-author patches"}
    assert "8/255" in mnist["table"]["PGD-restart"]["common_base_asr"]
    assert (tmp_path / "quantum_patches_mnist.png").stat().st_size > 1000
    # CIFAR-10: every defence
    assert main(["run", "quantum-patches", "--datasets", "cifar10", "--out", str(tmp_path / "c")]) == 0
    cifar = json.loads((tmp_path / "c" / "quantum_patches.json").read_text())["results"]["cifar10"]
    assert {r["defence"] for r in cifar["runs"]} == set(defences.DEFENCES)
    assert (tmp_path / "c" / "quantum_patches_cifar10.png").stat().st_size > 1000


def test_run_datasets_must_belong_to_the_experiment(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["run", "quantum-patches", "--datasets", "cifar10,svhn", "--out", str(tmp_path)])
    assert (
        "--datasets for quantum-patches must be a comma-separated subset of cifar10,cinic10,mnist"
        in capsys.readouterr().err
    )


def test_quantum_patches_runs_cinic10_only_when_a_copy_is_found(monkeypatch):
    from qrobust_lite import data
    from qrobust_lite.course import cli

    monkeypatch.setattr(data, "available_sources", lambda name, split="train", data_root=None: [])
    assert cli._default_quantum_patch_datasets() == ["cifar10", "mnist"]
    monkeypatch.setattr(data, "available_sources", lambda name, split="train", data_root=None: ["/x"])
    assert cli._default_quantum_patch_datasets() == ["cifar10", "cinic10", "mnist"]


@pytest.fixture
def tiny_part_three(monkeypatch):
    from qrobust_lite import scales

    monkeypatch.setitem(
        scales.EXPERIMENTS["poisoning"],
        "default",
        {
            "alphas": (0.0, 0.5),
            "seeds": (0,),
            "n_train": 40,
            "n_val": 20,
            "pool": 4,
            "spin_qubits": 4,
            "batch_size": 20,
            "randomisation_alphas": (0.5,),
            "schedules": {"QNN": {"epochs": 2, "lr": 0.03}, "MLP": {"epochs": 2, "lr": 0.01}},
        },
    )
    monkeypatch.setitem(
        scales.EXPERIMENTS["unlearning"], "default", {"alpha": 0.5, "seeds": (0,), "epochs": 2, "datasets": ("mnist",)}
    )


def test_run_poisoning_writes_results_figure_and_a_reusable_cache(tmp_path, tiny_part_three):
    import json

    assert main(["run", "poisoning", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "poisoning.json").read_text())
    assert len(saved["runs"]) == 2 * 2 * 2 + 2 * 1  # label flips on both datasets + features on MNIST
    assert "spin chain / QNN / label flip" in saved["summary"]
    assert (tmp_path / "poisoning.png").stat().st_size > 1000
    cached = len(list((tmp_path / "cache").glob("*.json")))
    assert cached == 10
    assert main(["run", "poisoning", "--out", str(tmp_path), "--force"]) == 0
    assert len(list((tmp_path / "cache").glob("*.json"))) == cached


def test_run_poisoning_on_a_subset_of_alphas_reuses_its_cache_for_the_whole_sweep(tmp_path, tiny_part_three):
    import json

    assert main(["run", "poisoning", "--datasets", "spin", "--alphas", "0.5", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "poisoning.json").read_text())
    assert saved["alphas"] == [0.5] and {r["alpha"] for r in saved["runs"]} == {0.5}
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2
    assert main(["run", "poisoning", "--datasets", "spin", "--out", str(tmp_path), "--force"]) == 0
    assert len(json.loads((tmp_path / "poisoning.json").read_text())["runs"]) == 4
    assert len(list((tmp_path / "cache").glob("*.json"))) == 4


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "poisoning", "--alphas", "0.25"],
        ["run", "poisoning", "--alphas", "x"],
        ["run", "unlearning", "--alphas", "0.5"],
    ],
)
def test_alphas_outside_the_scale_or_experiment_are_refused(argv, tiny_part_three, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert "--alphas (poisoning only) must be a comma-separated subset" in capsys.readouterr().err


def test_run_poisoning_on_a_local_dask_cluster_gives_the_same_results(tmp_path, tiny_part_three):
    pytest.importorskip("distributed")
    import json

    assert main(["run", "poisoning", "--datasets", "spin", "--out", str(tmp_path / "local")]) == 0
    assert (
        main(
            [
                "run",
                "poisoning",
                "--datasets",
                "spin",
                "--out",
                str(tmp_path / "dask"),
                "--executor",
                "dask",
                "--workers",
                "2",
            ]
        )
        == 0
    )
    runs = [
        [
            {k: v for k, v in r.items() if k != "seconds"}
            for r in json.loads((tmp_path / where / "poisoning.json").read_text())["runs"]
        ]
        for where in ("local", "dask")
    ]
    assert json.dumps(runs[0]) == json.dumps(runs[1])


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["run", "unlearning", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"],
            "--workers starts a local cluster",
        ),
        (["run", "poisoning", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --executor dask"),
        (["run", "poisoning", "--workers", "0"], "--workers must be from 1 to this machine's"),
        (["run", "poisoning", "--workers", "20000"], "--workers must be from 1 to this machine's"),
        (["run", "poisoning", "--datasets", "spin,spin"], "each named once, got 'spin,spin'"),
    ],
)
def test_executor_options_are_checked(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(args + ["--out", str(tmp_path)])
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "where,message",
    [
        ("a-file", "it is a file, not a folder"),
        ("a-file/sub", "a-file is a file, so the folder cannot be made"),
        ("/proc/qrobust-out", "/proc cannot be written"),
    ],
)
def test_out_is_checked_writable_before_any_work(where, message, tmp_path, capsys):
    (tmp_path / "a-file").write_text("kept")
    with pytest.raises(SystemExit):
        main(["run", "poisoning", "--out", str(tmp_path / where)])
    assert message in capsys.readouterr().err and (tmp_path / "a-file").read_text() == "kept"


def test_a_wrong_scheduler_is_one_line_and_creates_nothing(tmp_path, capsys):
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{closed.getsockname()[1]}"
        code = main(["run", "poisoning", "--executor", "dask", "--scheduler", address, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot connect" in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_damaged_data_file_is_one_line_naming_the_file(tmp_path, capsys):
    from tests.test_data import make_mnist_root

    make_mnist_root(tmp_path / "data")
    bad = tmp_path / "data" / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    bad.write_bytes(b"not a gzip file")
    code = main(
        [
            "run",
            "poisoning",
            "--datasets",
            "mnist",
            "--data-root",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and str(bad) in err and "download the official file again" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_run_unlearning_writes_histories_and_figure(tmp_path, tiny_part_three):
    import json

    assert main(["run", "unlearning", "--datasets", "mnist", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "unlearning.json").read_text())["results"]
    assert {r["method"] for r in saved["runs"]} == {"retrain", "fine-tune", "gradient ascent", "SCRUB"}
    assert all(len(r["history"]) == 3 for r in saved["runs"])
    assert (tmp_path / "unlearning_mnist.png").stat().st_size > 1000


def test_grade_names_missing_notebooks(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["grade", str(tmp_path / "missing.ipynb")])
    assert "notebooks not found" in capsys.readouterr().err


def test_run_label_refining_paper_writes_the_summary_the_appendix_reads(tmp_path, monkeypatch, capsys):
    import json

    from qrobust_lite import scales

    monkeypatch.setitem(scales.EXPERIMENTS["paper_methods"], "default", scales.settings("paper_methods", "smoke"))
    assert (
        main(["run", "label-refining-paper", "--datasets", "mnist", "--student-epochs", "2", "--out", str(tmp_path)])
        == 0
    )
    saved = json.loads((tmp_path / "label_refining_paper.json").read_text())
    assert saved["student_epochs"] == 2 and saved["results"]["mnist"]["config"]["student_epochs"] == 2
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary == saved["summary"]
    entry = summary["mnist"]
    assert set(entry["teacher_accuracy"]) == {"quantum", "classical"} and entry["seeds"] == [0, 1]
    assert {"one-hot", "smoothing", "quantum", "classical-teacher"} <= set(entry["accuracy"])
    assert (tmp_path / "label_refining_paper_mnist.png").stat().st_size > 1000
    with pytest.raises(SystemExit):
        main(["run", "poisoning", "--student-epochs", "2", "--out", str(tmp_path / "p")])
    assert "--student-epochs (label-refining-paper only)" in capsys.readouterr().err
