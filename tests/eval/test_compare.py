"""Comparing models: intervals, paired tests against the baseline, the table and the JSON."""
import json

import pytest

from mmret.eval.benchmark import evaluate_in_detail
from mmret.eval.compare import compare, compare_evaluations, format_comparison


def options():
    return {"batch_size": 8, "workers": 0, "progress": False}


def test_a_clearly_better_model_wins_significantly(small_captions, make_encoder):
    comparison = compare([make_encoder(0.8, "weak"), make_encoder(0.0, "strong")], small_captions,
                         resamples=500, permutations=2000, **options())
    assert json.loads(json.dumps(comparison)) == comparison
    assert comparison["models"] == ["weak", "strong"] and comparison["baseline"] == "weak"
    weak, strong = comparison["tasks"]["text->image"]["metrics"]["R@1"]
    assert strong["value"] == pytest.approx(1.0) and weak["value"] < 0.5
    assert weak["ci"][0] <= weak["value"] <= weak["ci"][1]
    assert weak["vs_baseline"] is None
    assert strong["vs_baseline"]["difference"] == pytest.approx(strong["value"] - weak["value"])
    assert strong["vs_baseline"]["p_permutation"] < 0.01
    assert strong["vs_baseline"]["p_wilcoxon"] < 0.01
    medr = comparison["tasks"]["text->image"]["metrics"]["MedR"]
    assert medr[1]["vs_baseline"]["difference"] < 0  # fewer ranks to the right image: lower is better
    assert "MedR" in comparison["tasks"]["text->image"]["lower_is_better"]


def test_identical_models_do_not_differ(small_captions, make_encoder):
    evaluations = [evaluate_in_detail(make_encoder(0.4), small_captions, **options()) for _ in range(2)]
    comparison = compare_evaluations(evaluations, ["R@1", "mAP"], resamples=200, permutations=500)
    assert comparison["models"] == ["keyed", "keyed#2"]
    for block in comparison["tasks"].values():
        for first, second in block["metrics"].values():
            assert first["value"] == second["value"]
            assert second["vs_baseline"]["p_permutation"] == 1.0


def test_format_comparison_shows_every_model_metric_and_p_value(small_captions, make_encoder):
    comparison = compare([make_encoder(0.8, "weak"), make_encoder(0.0, "strong"), make_encoder(0.8, "weak-too")],
                         small_captions, metrics=["R@1", "MedR"], resamples=200, permutations=500, **options())
    table = format_comparison(comparison)
    lines = table.splitlines()
    assert "bootstrap" in lines[0] and "vs weak" in lines[0]
    header = next(line for line in lines if line.startswith("metric"))
    assert all(label in header for label in ("weak", "strong", "weak-too")) and header.count(" p ") == 2
    r1 = next(line for line in lines if line.startswith("R@1"))
    assert r1.count("[") == 3 and "*" in r1  # strong differs significantly from weak
    assert "text->image (60 queries)" in table and "image->text (30 queries)" in table


def test_comparison_needs_a_model(small_captions):
    with pytest.raises(ValueError, match="at least one"):
        compare_evaluations([])
