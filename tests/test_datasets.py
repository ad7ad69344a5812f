"""The vendored Hillenbrand et al. (1995) vowel data: loaded from the package, documented shapes and labels,
values matching the published descriptive statistics (vowdata.ds), bad selections refused."""

from importlib import resources

import numpy as np
import pytest

from labctl.datasets import GROUPS, VOWELS, hillenbrand_text, load_hillenbrand


def test_whole_file_loads_with_documented_shapes_and_labels():
    d = load_hillenbrand()
    n = len(d)
    assert n == 1668  # 139 talkers x 12 vowels
    assert d.formants.shape == (n, 4) and d.contour.shape == (n, 3, 3)
    assert d.f0.shape == d.duration.shape == d.vowel.shape == d.group.shape == d.speaker.shape == (n,)
    assert set(d.vowel) == set(VOWELS) and set(d.group) == set(GROUPS)
    counts = {g: len(set(d.talker[d.group == g])) for g in GROUPS}
    assert counts == {"m": 45, "w": 48, "b": 27, "g": 19}
    assert d.talker[0] == "m01" and d.vowel[0] == "ae"
    # first row of the file: m01ae 323 174 663 2012 2659 3691 | 669 2008 2671 | 671 1992 2659 | 685 1773 2680
    assert d.duration[0] == pytest.approx(0.323) and d.f0[0] == 174
    assert d.formants[0].tolist() == [663, 2012, 2659, 3691]
    assert d.contour[0].tolist() == [[669, 2008, 2671], [671, 1992, 2659], [685, 1773, 2680]]


def test_unmeasurable_formants_are_nan_and_can_be_required():
    d = load_hillenbrand(groups=("m",))
    assert np.isnan(d.formants[2, 3])  # m03ae: F4 = 0 in the file
    assert np.all(np.isfinite(load_hillenbrand(complete=(1, 2, 3, 4)).formants))
    women = load_hillenbrand(groups=("w",), complete=(1, 2))
    assert len(women) < 48 * 12 and np.all(np.isfinite(women.formants[:, :2]))


def test_whole_talkers_keeps_only_talkers_with_every_vowel_measured():
    seven = ("ae", "ah", "aw", "er", "iy", "uh", "uw")
    d = load_hillenbrand(groups=("w",), vowels=seven, complete=(1, 2, 3), whole_talkers=True)
    talkers = np.unique(d.talker)
    assert len(d) == 259 and len(talkers) == 37  # the 37 women of Romera et al. (2018)
    assert talkers[:4].tolist() == ["w01", "w02", "w04", "w05"] and talkers[-1] == "w50"
    assert np.all(np.isfinite(d.formants[:, :3]))
    for t in talkers:
        assert sorted(d.vowel[d.talker == t]) == sorted(seven)
    # a token-level filter keeps partial talkers: 322 tokens of 48 women
    partial = load_hillenbrand(groups=("w",), vowels=seven, complete=(1, 2, 3))
    assert len(partial) == 322 and len(np.unique(partial.talker)) == 48


def test_values_match_the_published_statistics():
    iy = load_hillenbrand(groups=("w",), vowels=("iy",))
    # vowdata.ds: iy w F1 mean 437.250 (N 48), F2 mean 2761.313
    assert np.nanmean(iy.formants[:, 0]) == pytest.approx(437.250, abs=1e-3)
    assert np.nanmean(iy.formants[:, 1]) == pytest.approx(2761.313, abs=1e-3)


def test_selection_by_group_and_vowel():
    d = load_hillenbrand(groups=("w", "g"), vowels=("ae", "uw"))
    assert set(d.group) == {"w", "g"} and set(d.vowel) == {"ae", "uw"}
    assert len(d) == 2 * (48 + 19)
    sub = d.take(d.vowel == "uw")
    assert len(sub) == 48 + 19 and sub.formants.shape == (67, 4)


@pytest.mark.parametrize("kwargs", [{"groups": ("x",)}, {"vowels": ("ee",)}, {"complete": (5,)}])
def test_unknown_selection_is_refused(kwargs):
    with pytest.raises(ValueError, match="unknown"):
        load_hillenbrand(**kwargs)


def test_data_and_citation_ship_inside_the_package():
    folder = resources.files("labctl").joinpath("data", "hillenbrand1995")
    assert "Hillenbrand" in folder.joinpath("CITATION.txt").read_text()
    assert "vowdata.dat" in folder.joinpath("readme.txt").read_text(encoding="latin-1")
    assert "shared" not in str(folder)
    assert "(c) 1995 James Hillenbrand" in hillenbrand_text()
