"""The appendix *Results at the papers' scale*: its verdicts come from the stored files, and a
stored full-scale run is what the code gives when re-run (that check is slow: make test-full)."""

import copy
import json
from pathlib import Path

import pytest

from qrobust_lite import defences, experiments, poisoning
from qrobust_lite.course import paper_scale

ROOT = Path(__file__).resolve().parents[1]


def sweep(mlp: float, qnn: float) -> list[dict]:
    """Label-flip runs of both models on MNIST at three alphas and two seeds; at alpha 0.3 the
    MLP reproduces ``mlp`` of the flips and the QNN ``qnn``; the QNN's accuracy drops at 0.45."""
    runs = []
    for model, memorised in (("MLP", mlp), ("QNN", qnn)):
        for alpha, val in ((0.0, 0.95), (0.3, 0.93), (0.6, 0.3)):
            for seed in (0, 1):
                runs.append(
                    {
                        "dataset": "mnist",
                        "model": model,
                        "poison": "label flip",
                        "alpha": alpha,
                        "seed": seed,
                        "memorised": memorised + 0.01 * seed,
                        "val_accuracy": val,
                        "train_accuracy": 0.9,
                    }
                )
    return runs


def store(folder: Path, runs: list[dict]) -> None:
    sub, file, _ = paper_scale.RUNS["poisoning, MNIST"]
    (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / sub / file).write_text(json.dumps({"runs": runs, "wall_seconds": 60, "machine": "x", "version": "0"}))


@pytest.mark.parametrize(
    "mlp,qnn,verdict", [(0.95, 0.1, "reproduced"), (0.5, 0.1, "partly"), (0.95, 0.5, "partly"), (0.5, 0.5, "not")]
)
def test_the_verdict_is_derived_from_the_stored_numbers(tmp_path, mlp, qnn, verdict):
    store(tmp_path, sweep(mlp, qnn))
    found = paper_scale.load(tmp_path)
    assert found["unlearning"] is None  # not run: no verdict, no file
    result = paper_scale.memorisation_verdict(found["poisoning, MNIST"]["runs"], "mnist")
    assert result.verdict == verdict
    assert result.numbers["MLP memorised"][0] == pytest.approx(mlp + 0.005)
    assert result.numbers["QNN critical alpha"][0] == pytest.approx(0.45)
    assert f"{qnn + 0.005:.3f}" in result.reasons[1]


def test_a_damaged_results_file_is_named(tmp_path):
    store(tmp_path, sweep(0.9, 0.1))
    path = next(tmp_path.rglob("*.json"))
    path.write_text('{"runs": [')
    with pytest.raises(ValueError, match=rf"{path} is not a readable results file"):
        paper_scale.load(tmp_path)


def test_a_missing_dataset_or_alpha_is_named():
    with pytest.raises(ValueError, match="dataset 'spin chain'"):
        paper_scale.memorisation_verdict(sweep(0.9, 0.1), "spin chain")
    with pytest.raises(ValueError, match="alpha"):
        paper_scale.memorisation_verdict(sweep(0.9, 0.1), "mnist", alpha=0.2)


def test_the_stored_runs_hold_what_the_appendix_needs():
    found = paper_scale.load(ROOT / "results")
    for name, record in found.items():
        if record is None:
            continue
        assert {"version", "machine", "wall_seconds", "scale"} <= set(record), name
        assert record["scale"] == paper_scale.STORED_SCALE[name], name
        for run in record.get("runs", []):
            assert run["seconds"] > 0 and {"epochs", "lr", "seed", "alpha"} <= set(run), name


@pytest.mark.slow
def test_a_stored_full_scale_run_is_reproduced_by_the_code():
    """Re-run one seed at one alpha of the stored MNIST sweep (the QNN at 10 qubits and the MLP,
    100 epochs each: about a minute) and compare with the file."""
    record = paper_scale.load(ROOT / "results")["poisoning, MNIST"]
    if record is None:
        pytest.skip("the MNIST sweep has not been run at full scale")
    stored = [r for r in record["runs"] if r["alpha"] == 0.3 and r["seed"] == 0 and r["poison"] == "label flip"]
    roots = [Path(stored[0]["data_root"]), ROOT.parent / "shared" / "data"]
    data_root = next((r for r in roots if (r / "MNIST").exists()), None)
    if data_root is None:
        pytest.skip("the official MNIST files the sweep used are not here")
    fields = poisoning.PoisoningRun.__dataclass_fields__  # records older than a field keep its default
    configs = [
        poisoning.PoisoningRun(**{**{k: run[k] for k in fields if k in run}, "data_root": str(data_root)})
        for run in stored
    ]
    again = experiments.run_grid(
        configs, poisoning.run, key=poisoning.poisoning_key, n_jobs=1, threads=1, progress=False
    )
    for old, new in zip(stored, again):
        for metric in poisoning.METRICS:
            assert new[metric] == pytest.approx(old[metric], abs=1e-9), (old["model"], metric)


def test_changing_a_stored_number_changes_the_verdict(tmp_path):
    runs = sweep(0.95, 0.1)
    assert paper_scale.memorisation_verdict(runs, "mnist").verdict == "reproduced"
    edited = copy.deepcopy(runs)
    for r in edited:
        if r["model"] == "QNN" and r["alpha"] == 0.3:
            r["memorised"] = 0.6
    assert paper_scale.memorisation_verdict(edited, "mnist").verdict == "partly"


def unlearning_runs(mlp_after: float, qnn_before: float) -> list[dict]:
    """Unlearning runs on MNIST, two seeds: the retrained reference ends at forget accuracy 0.05;
    the MLP starts at 0.9 and its approximate methods end at ``mlp_after`` (SCRUB 0.02 lower); the
    QNN starts at ``qnn_before`` and ends at 0.06."""
    runs = []
    for seed in (0, 1):
        for model, before, after in (("MLP", 0.9, mlp_after), ("QNN", qnn_before, 0.06)):
            for method in ("retrain", "fine-tune", "gradient ascent", "SCRUB"):
                start, end = (0.5, 0.05) if method == "retrain" else (before, after - 0.02 * (method == "SCRUB"))
                runs.append(
                    {
                        "dataset": "mnist",
                        "model": model,
                        "seed": seed,
                        "method": method,
                        "history": [{"epoch": 0, "forget": start}, {"epoch": 1, "forget": end}],
                    }
                )
    return runs


@pytest.mark.parametrize("mlp_after,verdict", [(0.5, "reproduced"), (0.06, "partly")])
def test_the_unlearning_verdict_follows_the_residuals(mlp_after, verdict):
    result = paper_scale.unlearning_verdict(unlearning_runs(mlp_after, 0.4), "mnist")
    assert result.verdict == verdict
    assert result.numbers["MLP residual"][0] == pytest.approx(mlp_after - 0.02 - 0.05)  # SCRUB is the best
    assert "after SCRUB (the best method)" in result.reasons[1]
    assert not any("nothing to unlearn" in r for r in result.reasons)
    # a QNN that starts at the reference's level never took the poison in, and is said so
    assert any(
        "nothing to unlearn" in r for r in paper_scale.unlearning_verdict(unlearning_runs(0.5, 0.08), "mnist").reasons
    )
    with pytest.raises(ValueError, match="dataset 'spin chain'"):
        paper_scale.unlearning_verdict(unlearning_runs(0.5, 0.4), "spin chain")


def test_the_stored_unlearning_verdicts_are_computed_from_the_file():
    record = paper_scale.load(ROOT / "results")["unlearning"]
    if record is None:
        pytest.skip("unlearning has not been run at full scale")
    runs = record["results"]["runs"]
    assert paper_scale.unlearning_verdict(runs, "mnist").verdict == "partly"
    edited = copy.deepcopy(runs)  # an MLP whose approximate methods leave half the flips
    for r in edited:
        if r["model"] == "MLP" and r["method"] != "retrain" and r["dataset"] == "mnist":
            r["history"][-1]["forget"] = 0.5
    assert paper_scale.unlearning_verdict(edited, "mnist").verdict == "reproduced"


def test_the_refining_verdict_counts_the_four_comparisons():
    from tests.test_label_refining import _results

    three = {"seeds": [0, 1, 2], "rule": "r"}
    result = paper_scale.refining_verdict({**_results(0.40, (0, 1, 2)), "config": three})
    # refined (mix 0.1): corrupted 0.52, ECE 0.07; one-hot 0.50, 0.10; smoothing 0.55, 0.08
    assert result.verdict == "partly"
    assert [r.split(":")[0] for r in result.reasons[1:]] == [
        "more robust than one-hot",
        "better calibrated than one-hot",
        "not more robust than label smoothing (eps 0.1)",
        "better calibrated than label smoothing (eps 0.1)",
    ]
    strong = paper_scale.refining_verdict({**_results(0.20, (0, 1, 2)), "config": three})
    assert strong.verdict == "partly"
    # two seeds never make a difference significant, however consistent
    two = paper_scale.refining_verdict({**_results(0.40), "config": {"seeds": [0, 1], "rule": "r"}})
    assert two.verdict == "not" and "only 2 seed(s), fewer than 3" in two.reasons[1]
    assert strong.numbers["quantum-refined corrupted accuracy"][0] == pytest.approx(0.70)


def _noisy(results: dict, method: str, offsets: dict[int, float]) -> dict:
    """``results`` with ``method``'s accuracies shifted by ``offsets[seed]`` (same-seed noise)."""
    edited = copy.deepcopy(results)
    for r in edited["runs"]:
        if r["method"] == method:
            r["accuracy"] += offsets[r["seed"]]
    return edited


def test_a_refining_comparison_within_seed_noise_is_not_won():
    from tests.test_label_refining import _results

    base = {**_results(0.40, (0, 1, 2)), "config": {"seeds": [0, 1, 2], "rule": "r"}}
    # refined 0.52 against one-hot 0.50: the same gain on all three seeds wins
    assert paper_scale.refining_verdict(base).reasons[1].startswith("more robust than one-hot")
    # gains +0.06, -0.02 and +0.02 (mean +0.02, standard error 0.023): seed noise, not won
    noisy = paper_scale.refining_verdict(_noisy(base, "quantum-refined", {0: 0.04, 1: -0.04, 2: 0.0}))
    assert noisy.reasons[1].startswith("not more robust than one-hot") and "seed noise" in noisy.reasons[1]
    assert noisy.numbers["quantum-refined corrupted accuracy"][0] == pytest.approx(0.52)


def test_the_stored_refining_verdicts_are_computed_from_the_file():
    record = paper_scale.load(ROOT / "results")["label refining"]
    if record is None:
        pytest.skip("label refining has not been run at full scale")
    results = record["results"]["mnist"]
    stored = paper_scale.refining_verdict(results)
    assert stored.verdict == "partly" and stored.numbers["seeds"] == 5
    # lift the refined labels' corrupted accuracy well clear of both baselines: one more comparison won
    lifted = paper_scale.refining_verdict(_noisy(results, "quantum-refined", {s: 0.05 for s in range(5)}))
    assert sum(not r.startswith("not ") for r in lifted.reasons[1:]) == 2
    assert lifted.reasons[3].startswith("more robust than label smoothing")


def test_beats_compares_seed_by_seed_and_checks_its_arrays():
    import numpy as np

    assert paper_scale.beats(np.array([0.2, 0.3, 0.25]), np.array([0.3, 0.4, 0.35]), higher_is_better=False)[:2] == (
        True,
        pytest.approx(0.1),
    )
    assert not paper_scale.beats(np.array([0.6, 0.4, 0.5]), np.array([0.5, 0.5, 0.5]), higher_is_better=True)[0]
    # fewer than three paired seeds never win, and one seed has no standard error
    assert not paper_scale.beats(np.array([0.2, 0.3]), np.array([0.3, 0.4]), higher_is_better=False)[0]
    won, gain, error = paper_scale.beats(np.array([0.51]), np.array([0.50]), higher_is_better=True)
    assert not won and gain == pytest.approx(0.01) and np.isnan(error)
    with pytest.raises(ValueError, match="a and b must be 1-D arrays"):
        paper_scale.beats(np.array([0.5, 0.6]), np.array([0.5]), higher_is_better=True)
    with pytest.raises(ValueError, match="a and b must be finite at every seed"):
        paper_scale.beats(np.array([0.5, np.nan, 0.4]), np.array([0.5, 0.5, 0.5]), higher_is_better=True)


def test_verdicts_refuse_runs_they_cannot_read():
    runs = sweep(0.95, 0.1)
    nan = copy.deepcopy(runs)
    next(r for r in nan if r["model"] == "MLP" and r["alpha"] == 0.3)["memorised"] = float("nan")
    with pytest.raises(ValueError, match="MLP's memorised on mnist at alpha 0.3: not finite at every seed"):
        paper_scale.memorisation_verdict(nan, "mnist")
    twice = runs + [next(r for r in runs if r["model"] == "QNN" and r["alpha"] == 0.3)]
    with pytest.raises(ValueError, match="QNN's memorised on mnist at alpha 0.3: seeds .* hold a duplicate"):
        paper_scale.memorisation_verdict(twice, "mnist")
    missing = copy.deepcopy(runs)
    del next(r for r in missing if r["model"] == "MLP" and r["alpha"] == 0.3)["memorised"]
    with pytest.raises(ValueError, match="a run lacks 'memorised'"):
        paper_scale.memorisation_verdict(missing, "mnist")
    unl = unlearning_runs(0.5, 0.4)
    next(r for r in unl if r["model"] == "QNN" and r["method"] == "SCRUB")["history"][-1]["forget"] = float("nan")
    with pytest.raises(ValueError, match="QNN's SCRUB forget on mnist: not finite"):
        paper_scale.unlearning_verdict(unl, "mnist")


def patch_experiment(dataset: str, undefended: int, patched: int, coauthor: int | None = None) -> dict:
    """Three seeds, 100 test images of which every model gets the first 60 right; of those, the
    attack fools ``undefended`` / ``patched`` (/ ``coauthor``) images plus the seed's number
    (its own difficulty, shared by all)."""

    def run(defence: str, seed: int, fooled: int) -> dict:
        fooled += seed
        robust = "1" * (60 - fooled) + "0" * (40 + fooled)
        return {
            "defence": defence,
            "seed": seed,
            "clean_accuracy": 0.6,
            "clean_correct": "1" * 60 + "0" * 40,
            "asr": {"PGD-restart": [fooled / 60]},
            "robust_accuracy": {"PGD-restart": [(60 - fooled) / 100]},
            "robust_correct": {"PGD-restart": [robust]},
        }

    chosen = {
        "none": undefended,
        "quantum patches": patched,
        **({} if coauthor is None else {"co-author patches": coauthor}),
    }
    runs = [run(d, s, n) for d, n in chosen.items() for s in (0, 1, 2)]
    return {
        "config": {
            "dataset": dataset,
            "model": "quanvolution",
            "seeds": [0, 1, 2],
            "epsilons": [8 / 255],
            "defences": list(chosen),
            "attacks": ["PGD-restart"],
        },
        "runs": runs,
    }


def test_the_patches_verdict_reads_both_datasets_seed_by_seed_on_a_common_base():
    results = {"cifar10": patch_experiment("cifar10", 50, 40, coauthor=55), "mnist": patch_experiment("mnist", 20, 21)}
    verdict = paper_scale.patches_verdict(results)
    assert verdict.verdict == "reproduced" and verdict.numbers["seeds"] == 3
    text = "\n".join(verdict.reasons)
    assert "common base 60-60 images per seed" in text
    assert "quantum patches (clean 0.600): common-base ASR -0.167 +- 0.000 (lower), robust accuracy +0.100" in text
    assert "co-author patches (clean 0.600): common-base ASR +0.083" in text and "(not lower)" in text
    results["mnist"] = patch_experiment("mnist", 20, 10)  # a gain on MNIST: only one half holds
    assert paper_scale.patches_verdict(results).verdict == "partly"
    results["cifar10"] = patch_experiment("cifar10", 50, 52)
    assert paper_scale.patches_verdict(results).verdict == "not"
    with pytest.raises(ValueError, match="epsilon must be one of the run's budgets"):
        paper_scale.patches_verdict(results, epsilon=0.5)
    with pytest.raises(ValueError, match="results must hold 'cifar10' and 'mnist'"):
        paper_scale.patches_verdict({"cifar10": results["cifar10"]})


def test_a_defence_that_only_loses_clean_accuracy_does_not_look_like_one_that_resists():
    results = {"cifar10": patch_experiment("cifar10", 50, 50), "mnist": patch_experiment("mnist", 20, 20)}
    for r in results["cifar10"]["runs"]:  # patched models get 30 of the attacked 60 wrong already when clean
        if r["defence"] == "quantum patches":
            r["clean_correct"] = "1" * 30 + "0" * 70
            r["asr"]["PGD-restart"] = [20 / 30]  # its own ASR looks lower (0.667 against 0.833)
    verdict = paper_scale.patches_verdict(results)
    assert verdict.verdict == "partly"  # MNIST's "no gain" holds; CIFAR-10's effect does not
    assert "common-base ASR +0.000" in "\n".join(verdict.reasons)


def test_the_patches_verdict_refuses_numbers_it_cannot_judge():
    results = {"cifar10": patch_experiment("cifar10", 50, 40), "mnist": patch_experiment("mnist", 20, 21)}
    results["mnist"]["runs"][0]["robust_accuracy"]["PGD-restart"] = [float("nan")]
    with pytest.raises(ValueError, match="robust_accuracy of 'none': not finite at every seed"):
        paper_scale.patches_verdict(results)
    results["mnist"]["runs"][0]["robust_accuracy"]["PGD-restart"] = [0.4]
    for r in results["mnist"]["runs"]:
        r["clean_correct"] = "0" * 100
    with pytest.raises(ValueError, match="the mnist run.s common base is empty"):
        paper_scale.patches_verdict(results)
    results["mnist"]["runs"] = results["mnist"]["runs"][1:]
    with pytest.raises(ValueError, match=r"results lack the runs \(defence, seed\) \[\('none', 0\)\]"):
        paper_scale.patches_verdict(results)


def test_the_stored_patches_verdict_is_computed_from_the_file():
    record = paper_scale.load(ROOT / "results")["quantum patches"]
    if record is None:
        pytest.skip("quantum patches have not been stored")
    results = record["results"]
    verdict = paper_scale.patches_verdict(results)
    cifar = results["cifar10"]
    assert min(r["clean_accuracy"] for r in cifar["runs"] if r["defence"] == "none") >= 0.45
    assert cifar["config"]["n_train"] == 5000 and cifar["config"]["n_test"] == 1000
    assert set(cifar["config"]["defences"]) == set(defences.DEFENCES) and len(cifar["config"]["seeds"]) >= 3
    edited = copy.deepcopy(results)  # patched CIFAR-10 models fooled on every image
    for r in edited["cifar10"]["runs"]:
        if r["defence"] == "quantum patches":
            r["robust_correct"]["PGD-restart"][-1] = "0" * len(r["clean_correct"])
            r["robust_accuracy"]["PGD-restart"][-1] = 0.0
    assert not paper_scale.patch_effects(edited["cifar10"])["quantum patches"]["robust"][0]
    expected = {"reproduced": "partly", "partly": verdict.verdict, "not": "not"}[verdict.verdict]
    if verdict.verdict == "partly" and "CIFAR-10: the judged patches resist" in verdict.reasons[-1]:
        expected = "not"
    assert paper_scale.patches_verdict(edited).verdict == expected
