"""The shipped label schemes and the exact remap between them (curator.label_schemes)."""

from __future__ import annotations

import pytest

from curator.label_schemes import LabelSchemeError, fitting_schemes, load_scheme, remap_table, scheme_names


def test_the_shipped_schemes_load_with_a_name_in_every_readme_language() -> None:
    assert set(scheme_names()) >= {"cncb", "infnet", "binary-lesion", "medseg"}
    for name in scheme_names():
        for label in load_scheme(name).labels:
            assert set(label.names) >= {"en", "ru", "zh"}, (name, label.value)


def test_cncb_and_infnet_give_the_same_integer_different_meanings() -> None:
    cncb, infnet = load_scheme("cncb"), load_scheme("infnet")
    assert [label.key for label in cncb.labels] == ["background", "lung", "ground-glass", "consolidation"]
    assert [label.key for label in infnet.labels] == ["background", "ground-glass", "consolidation"]
    assert cncb.lesion_values == (2, 3) and infnet.lesion_values == (1, 2)
    # the same tissue is drawn in the same colour whichever scheme stores it
    assert cncb.label(2).colour == infnet.label(1).colour  # type: ignore[union-attr]


def test_infnet_remaps_onto_cncb_by_meaning() -> None:
    assert remap_table(load_scheme("infnet"), load_scheme("cncb")) == {0: 0, 1: 2, 2: 3}


def test_a_finer_scheme_folds_into_binary_lesion_through_part_of() -> None:
    assert remap_table(load_scheme("infnet"), load_scheme("binary-lesion")) == {0: 0, 1: 1, 2: 1}


def test_a_remap_that_would_drop_a_meaning_is_refused() -> None:
    with pytest.raises(LabelSchemeError, match=r"no label for 'cncb' 1 \(lung field\)"):
        remap_table(load_scheme("cncb"), load_scheme("infnet"))
    with pytest.raises(LabelSchemeError, match="pleural effusion"):
        remap_table(load_scheme("medseg"), load_scheme("cncb"))


def test_an_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(LabelSchemeError, match="known: binary-lesion, cncb"):
        load_scheme("nope")


def test_values_that_fit_several_schemes_are_told_apart_from_values_that_fit_one() -> None:
    assert fitting_schemes({0, 1, 2}) == ("cncb", "infnet", "medseg")     # ambiguous: 1 and 2 mean different things
    assert fitting_schemes({0, 3}) == ("cncb", "medseg")
    assert fitting_schemes({0, 1, 2, 3}) == ("cncb", "medseg")
    assert fitting_schemes({7}) == ()


def test_differing_meanings_names_each_value_the_schemes_disagree_on() -> None:
    from curator.label_schemes import differing_meanings

    assert differing_meanings(("cncb", "infnet"), {0, 1, 2}) == {
        1: {"cncb": "lung", "infnet": "ground-glass"}, 2: {"cncb": "ground-glass", "infnet": "consolidation"}}
    assert differing_meanings(("infnet", "medseg"), {0, 1, 2}) == {}   # the same meanings: no matter which
    assert differing_meanings(("cncb", "medseg"), {0}) == {}
