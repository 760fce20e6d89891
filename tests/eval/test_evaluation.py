"""The detailed evaluation behind reports and comparisons: per-query values, top results, precomputed vectors."""
import json

import numpy as np
import pytest

from mmret.data.datasets import AUDIO_TO_AUDIO, fsdd
from mmret.data.layouts.fsdd import DIGIT_WORDS
from mmret.encoders.base import SHARED
from mmret.eval.benchmark import evaluate, evaluate_in_detail
from mmret.eval.evaluation import evaluation_from_vectors
from mmret.eval.metrics import REPORTED_METRICS, summarise


def run(encoder, dataset, **options):
    return evaluate(encoder, dataset, batch_size=8, workers=0, progress=False, **options)


def test_per_query_values_summarise_to_the_reported_metrics(small_captions, make_encoder):
    result = run(make_encoder(0.3), small_captions, per_query=True)
    assert json.loads(json.dumps(result)) == result
    for task, values in result["per_query"].items():
        assert len(values["ids"]) == len(small_captions.relevance(task))
        for metric in REPORTED_METRICS:
            per_query = np.array(values[metric], dtype=float)
            assert summarise(metric, per_query) == pytest.approx(result["results"][task][metric]), (task, metric)


def test_the_default_result_stays_small(small_captions, make_encoder):
    assert "per_query" not in run(make_encoder(), small_captions)


def test_top_results_are_the_ranking_the_metrics_saw(small_captions, make_encoder):
    evaluation = evaluate_in_detail(make_encoder(0.5), small_captions, batch_size=8, workers=0, progress=False)
    task = evaluation.tasks["text->image"]
    for query in range(0, len(task.queries), 7):
        top, scores = task.top(query, 5)
        assert (np.diff(scores) <= 0).all()
        np.testing.assert_array_equal(task.relevance[query, top], task.ranking.hits[query, :5])
        np.testing.assert_allclose(scores, task.scores()[query, top], rtol=1e-6)


def test_a_pool_queried_against_itself_never_returns_the_query(tmp_path):
    root = tmp_path / "fsdd"
    for digit in range(3):
        for take in range(4):
            (root / "recordings").mkdir(parents=True, exist_ok=True)
            (root / "recordings" / f"{digit}_ann_{take}.wav").write_bytes(b"")
    dataset = fsdd(root)
    clips = dataset.pools["audio"]
    digits = np.array([clip.metadata["digit"] for clip in clips])
    vectors = np.eye(3, dtype=np.float32)[digits]  # a perfect audio embedding: one axis per digit
    words = [query.metadata["label"] for query in dataset.pools["text"]]  # "one", "two", "zero": sorted
    texts = np.eye(3, dtype=np.float32)[[DIGIT_WORDS.index(word) for word in words]]
    evaluation = evaluation_from_vectors(dataset, "perfect", {"audio": {SHARED: vectors}, "text": {SHARED: texts}},
                                         {task: SHARED for task in dataset.tasks})
    task = evaluation.tasks[AUDIO_TO_AUDIO]
    for query in range(len(clips)):
        top, _ = task.top(query, len(clips))
        assert query not in top and len(top) == len(clips) - 1
    assert evaluation.summary()["results"][AUDIO_TO_AUDIO]["mAP"] == pytest.approx(1.0)
    assert evaluation.summary()["results"]["text->audio"]["mAP@R"] == pytest.approx(1.0)


def test_items_that_were_not_embedded_are_left_out(small_captions, make_encoder):
    images = np.ones(len(small_captions.images), dtype=bool)
    images[3] = False
    embedded = {"image": images, "text": np.ones(len(small_captions.texts), dtype=bool)}
    encoder = make_encoder()
    texts = encoder.encode("text", [t.text for t in small_captions.texts])
    image_vectors = texts[::2]  # image i's vector is the vector of its captions
    evaluation = evaluation_from_vectors(small_captions, "keyed", {"image": {SHARED: image_vectors},
                                                                   "text": {SHARED: texts}},
                                         {task: SHARED for task in small_captions.tasks}, embedded)
    summary = evaluation.summary()
    assert summary["n_items"] == {"image": len(images) - 1, "text": len(small_captions.texts)}
    assert summary["unanswerable_queries"]["text->image"] == 2  # the captions of the left-out image
    assert summary["results"]["text->image"]["R@1"] == pytest.approx(1.0)
