"""Training a fusion model of photo+title items with `mmret train`'s stack: the config section, the data, and the
saved model that reloads with its fusion and reproduces its validation figures."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmret.data.datasets import captions
from mmret.data.decode import open_image, read_bytes
from mmret.data.items import Item
from mmret.encoders.fused import FusedEncoder
from mmret.fusion import fuse_vectors
from mmret.models import load_encoder, with_fusion
from mmret.training import TrainConfig, TrainedEncoder, train
from mmret.training.corpus import CaptionCorpus
from mmret.training.fusion_data import FusedItems, split_titles
from mmret.training.mapping import ConfigError
from mmret.training.saved import RECORD
from mmret.training.validation import retrieval_results

from .conftest import VALIDATION


@pytest.fixture(scope="module")
def trained_run(fusion_config, fp32_encoder):
    return train(fusion_config("attention", options={"heads": 4}), encoder=fp32_encoder)


@pytest.fixture(scope="module")
def trained_encoder(trained_run):
    return TrainedEncoder(trained_run.model_dir)


def test_saved_fusion_model_reproduces_its_validation_figures(trained_run, trained_encoder, data_dir):
    encoder = trained_encoder
    assert encoder.fusion is not None
    dataset = captions(data_dir / "flickr8k-500", *VALIDATION)
    titles, queries = split_titles(CaptionCorpus.from_datasets([dataset]), 0)
    pictures = [open_image(read_bytes(item.path), item.path) for item in dataset.images]
    items = fuse_vectors(encoder.fusion, [encoder.encode("image", pictures), encoder.encode("text", titles)])
    results = retrieval_results(items, encoder.encode("text", queries.texts), queries.relevance())
    assert results["text->image"]["R@1"] == pytest.approx(trained_run.result.validation["text->image"]["R@1"], abs=1e-6)
    assert results["text->image"]["mAP"] == pytest.approx(trained_run.result.validation["text->image"]["mAP"], abs=1e-4)


def test_indexing_with_the_model_uses_its_trained_fusion(trained_encoder):
    encoder = with_fusion(trained_encoder, "attention")
    assert encoder.model_id.endswith("+fusion:attention")
    reloaded = load_encoder(encoder.model_id)  # as a collection reopens it from the model id it records
    assert isinstance(reloaded, FusedEncoder) and reloaded.model_id == encoder.model_id
    dim = encoder.spaces["shared"]
    parts = [np.eye(dim, dtype=np.float32)[:2], np.eye(dim, dtype=np.float32)[2:4]]
    assert np.allclose(reloaded.fuse({"image": parts[0], "text": parts[1]}, 2),
                       fuse_vectors(encoder.fusion, parts), atol=1e-6)
    untrained = with_fusion(trained_encoder, "mean")
    assert not np.allclose(untrained.fuse({"image": parts[0], "text": parts[1]}, 2), fuse_vectors(encoder.fusion, parts))


def test_the_record_names_the_fusion(trained_run):
    record = json.loads((trained_run.model_dir / RECORD).read_text())
    assert record["fusion"] == {"method": "attention", "modalities": ["image", "text"], "residual": True,
                                "options": {"heads": 4}}


def test_titles_are_split_from_the_queries():
    images = [Item(id=f"i{i}", modality="image", path=f"i{i}.jpg") for i in range(2)]
    corpus = CaptionCorpus(images, ["t0", "q0", "t1", "q1a", "q1b"], np.array([0, 0, 1, 1, 1]))
    titles, queries = split_titles(corpus, 0)
    assert titles == ["t0", "t1"] and queries.texts == ["q0", "q1a", "q1b"]
    assert queries.image_of_text.tolist() == [0, 1, 1]
    with pytest.raises(ValueError, match="title_caption 1: 1 images have no caption left as a query.*i0.jpg"):
        split_titles(corpus, 1)


def test_modality_dropout_drops_one_part_at_most():
    items = FusedItems(np.ones((50, 1, 3), np.float32), np.ones((50, 2), np.float32), dropout=0.5)
    mask = items(np.arange(50), np.random.default_rng(0))[:, -2:]
    assert (mask.sum(dim=1) >= 1).all() and 10 < int((mask.sum(dim=1) == 1).sum()) < 40
    assert torch.equal(FusedItems(items.images, items.titles)(np.arange(5), np.random.default_rng(0))[:, -2:],
                       torch.ones(5, 2))


@pytest.mark.parametrize("fusion, message", [
    ({"method": "sum"}, "fusion.method: must be one of"),
    ({"method": "attention", "options": {"heads": 5}}, "fusion.options: attention: .*not divisible by heads 5"),
    ({"method": "tensor", "options": {"rank": 2}}, "fusion.options: tensor: .*unexpected keyword argument 'rank'"),
    ({"method": "mean", "modality_dropout": 1.0}, r"fusion.modality_dropout: must be in \[0, 1\)"),
])
def test_bad_fusion_sections_name_the_field(fusion, message):
    data = {"data": {"train": ["captions:x"], "validation": "captions:y"}, "fusion": fusion}
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict(data)
