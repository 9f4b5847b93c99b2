"""qrobust_lite.scales: every chapter and every experiment knows smoke, default and full."""

import re
from pathlib import Path

import nbformat
import pytest

from qrobust_lite import scales
from tests.test_book import notebooks


def test_chapter_scale_reads_the_environment(monkeypatch):
    monkeypatch.delenv(scales.ENV_VAR, raising=False)
    assert scales.chapter_scale() == "default"
    assert scales.chapter_scale("full") == "full"
    for value in scales.SCALES:
        monkeypatch.setenv(scales.ENV_VAR, value)
        assert scales.chapter_scale() == value
    monkeypatch.setenv(scales.ENV_VAR, "  ")
    assert scales.chapter_scale() == "default"


def test_bad_scales_name_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv(scales.ENV_VAR, "tiny")
    with pytest.raises(ValueError, match=r"\$QROBUST_SCALE must be one of \['smoke', 'default', 'full'\], got 'tiny'"):
        scales.chapter_scale()
    monkeypatch.delenv(scales.ENV_VAR)
    with pytest.raises(ValueError, match=r"default must be one of \['smoke', 'default', 'full'\], got 'huge'"):
        scales.chapter_scale("huge")


@pytest.mark.parametrize("experiment", list(scales.EXPERIMENTS))
def test_every_experiment_has_every_scale_with_the_same_keys(experiment):
    table = scales.EXPERIMENTS[experiment]
    assert tuple(table) == scales.SCALES
    assert len({tuple(sorted(v)) for v in table.values()}) == 1


def test_settings_name_the_experiment_and_the_scale():
    with pytest.raises(ValueError, match=r"experiment must be one of \['primer'"):
        scales.settings("primers", "default")
    with pytest.raises(ValueError, match=r"scale must be one of \['smoke', 'default', 'full'\], got 'big'"):
        scales.settings("primer", "big")


def test_no_module_or_chapter_keeps_its_own_scale_table():
    """One place says what each scale means: no SCALES table elsewhere, no {"smoke": ...}[SCALE]
    in a notebook."""
    package = Path(scales.__file__).parent
    for path in package.rglob("*.py"):
        if path.name != "scales.py":
            assert not re.search(r"^SCALES\s*=|^SCHEDULES\s*=", path.read_text(), flags=re.M), path
    for nb in notebooks():
        assert '"smoke":' not in nb.read_text(), nb.name


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.name)
def test_every_chapter_takes_its_scale_from_the_environment(nb):
    cells = nbformat.read(nb, as_version=4).cells
    assert sum("SCALE = scales.chapter_scale()" in c.source for c in cells if c.cell_type == "code") == 1


def test_settings_hand_out_a_copy_that_a_chapter_may_change():
    from qrobust_lite import poisoning

    before = len(poisoning.chapter_grid("smoke"))
    mine = scales.settings("poisoning", "smoke")
    mine["seeds"] = (0,)
    mine["schedules"]["MLP"]["epochs"] = 99
    assert scales.settings("poisoning", "smoke")["seeds"] == (0, 1)
    assert scales.settings("poisoning", "smoke")["schedules"]["MLP"]["epochs"] == 5
    assert len(poisoning.chapter_grid("smoke")) == before
