"""Query-side adaptation: the items are the inner fusion's, the queries move by a trained residual head, and a
trained model's adapted queries are what search uses and what its validation figures were measured with."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mmret.data.datasets import captions
from mmret.data.decode import open_image, read_bytes
from mmret.encoders.base import SHARED
from mmret.fusion import QueryHeadFusion, adapt_queries, build_fusion, fuse_vectors
from mmret.models import with_fusion
from mmret.query.request import Query
from mmret.query.vectors import query_vector
from mmret.training import TrainedEncoder, train
from mmret.training.corpus import CaptionCorpus
from mmret.training.fusion_data import split_titles
from mmret.training.validation import retrieval_results

from .conftest import VALIDATION


def test_items_are_fused_by_the_inner_fusion():
    torch.manual_seed(0)
    fusion = QueryHeadFusion((4, 4), 4, items="mean")
    parts = [torch.randn(3, 4), torch.randn(3, 4)]
    mask = torch.tensor([[True, True], [True, False], [False, True]])
    assert torch.allclose(fusion(parts, mask), fusion.items(parts, mask))
    assert torch.allclose(fusion(parts, mask)[1], parts[0][1])


def test_the_query_head_is_a_residual_on_the_query():
    torch.manual_seed(0)
    fusion = QueryHeadFusion((4, 4), 4, dropout=0.0)
    queries = torch.randn(5, 4)
    assert torch.allclose(fusion.adapt_query(queries), queries + 0.1 * fusion.head(queries))
    with torch.no_grad():
        fusion.scale.zero_()
    assert torch.equal(fusion.adapt_query(queries), queries)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="items must be another fusion than query_head"):
        build_fusion("query_head", (4, 4), 4, items="query_head")
    with pytest.raises(ValueError, match="unknown fusion 'nope'"):
        build_fusion("query_head", (4, 4), 4, items="nope")
    with pytest.raises(ValueError, match=r"queries must have shape \(n, 4\)"):
        build_fusion("query_head", (4, 4), 4).adapt_query(torch.ones(2, 5))


@pytest.fixture(scope="module")
def trained(fusion_config, fp32_encoder):
    run = train(fusion_config("query_head", options={"items": "gated", "hidden": 32}, residual=False),
                encoder=fp32_encoder)
    return run, TrainedEncoder(run.model_dir)


def test_saved_model_reproduces_its_validation_figures_with_adapted_queries(trained, data_dir):
    run, encoder = trained
    dataset = captions(data_dir / "flickr8k-500", *VALIDATION)
    titles, queries = split_titles(CaptionCorpus.from_datasets([dataset]), 0)
    pictures = [open_image(read_bytes(item.path), item.path) for item in dataset.images]
    items = fuse_vectors(encoder.fusion, [encoder.encode("image", pictures), encoder.encode("text", titles)])
    raw = encoder.encode("text", queries.texts)
    adapted = adapt_queries(encoder.fusion, raw)
    results = retrieval_results(items, adapted, queries.relevance())
    assert results["text->image"]["R@1"] == pytest.approx(run.result.validation["text->image"]["R@1"], abs=1e-6)
    assert results["text->image"]["mAP"] == pytest.approx(run.result.validation["text->image"]["mAP"], abs=1e-4)
    assert not np.allclose(adapted, raw, atol=1e-3)  # the head moved the queries


def test_search_sends_text_queries_through_the_query_head(trained):
    _, encoder = trained
    fused = with_fusion(encoder, "query_head")
    text = "a dog runs on the grass"
    vector, space = query_vector(fused, Query(text=text))
    assert space == SHARED
    assert np.allclose(vector, adapt_queries(encoder.fusion, encoder.encode("text", [text]))[0], atol=1e-6)
