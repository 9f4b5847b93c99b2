"""qrobust_lite.scales: every chapter and every experiment knows smoke, default and full."""

import nbformat
import pytest

from qrobust_lite import defences, label_refining, poisoning, scales, unlearning
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
    with pytest.raises(ValueError, match=r"scale must be one of \['smoke', 'default', 'full'\], got 'huge'"):
        scales.chapter_scale("huge")


@pytest.mark.parametrize("table", [label_refining.SCALES, defences.SCALES, poisoning.SCALES,
                                   poisoning.SCHEDULES, unlearning.SCALES],
                         ids=["label_refining", "defences", "poisoning", "schedules", "unlearning"])
def test_every_scale_table_has_every_scale_with_the_same_keys(table):
    assert tuple(table) == scales.SCALES
    assert len({tuple(sorted(v)) for v in table.values()}) == 1


@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.name)
def test_every_chapter_takes_its_scale_from_the_environment(nb):
    cells = nbformat.read(nb, as_version=4).cells
    assert sum("SCALE = scales.chapter_scale()" in c.source for c in cells if c.cell_type == "code") == 1
