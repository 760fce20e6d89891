"""Composed queries: parsing parts with weights and negatives, and composing their vectors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mmret.encoders.base import SHARED, Encoder
from mmret.encoders.fused import FusedEncoder
from mmret.fusion import build_fusion
from mmret.query.parts import QueryPart, compose_vector, parse_part


@pytest.mark.parametrize("written, value, weight", [
    ("a dog", "a dog", 1.0), ("-people", "people", -1.0), ("in red^0.5", "in red", 0.5),
    ("-people^2", "people", -2.0), ("x^-0.5", "x", -0.5), ("-", "-", 1.0), ("2^3 is eight", "2^3 is eight", 1.0),
])
def test_text_parts_parse_negatives_and_weights(written, value, weight):
    assert parse_part("text", written) == QueryPart("text", value, weight)


def test_file_parts_become_paths():
    assert parse_part("image", "-~/shoe.jpg^0.3") == QueryPart("image", Path("~/shoe.jpg").expanduser(), -0.3)


def test_bad_parts_are_refused():
    with pytest.raises(ValueError, match="weight must be a non-zero number"):
        parse_part("text", "dog^0")
    with pytest.raises(ValueError, match="unknown modality 'smell'"):
        QueryPart("smell", "roses")
    with pytest.raises(ValueError, match="at least one positive part"):
        compose_vector([QueryPart("text", "people", -1.0)], np.eye(2, dtype=np.float32)[:1])


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_weighted_sum_with_a_negative_part():
    parts = [QueryPart("text", "dog", 2.0), QueryPart("text", "people", -1.0)]
    composed = compose_vector(parts, np.stack([unit(1, 0, 0), unit(0, 1, 0)]))
    assert np.allclose(composed, unit(2, -1, 0))
    with pytest.raises(ValueError, match="cancel out"):
        compose_vector([QueryPart("text", "a"), QueryPart("text", "b", -1.0)], np.stack([unit(1, 0), unit(1, 0)]))


class _Unit(Encoder):
    model_id, modalities, spaces = "unit", ("image", "text"), {SHARED: 3}

    def embed_prepared(self, modality, batch):
        raise NotImplementedError


def test_a_fusing_encoder_fuses_the_positive_image_and_text_then_subtracts_negatives():
    fused = FusedEncoder(_Unit(), "mean")
    parts = [QueryPart("image", Path("shoe.jpg")), QueryPart("text", "in red"), QueryPart("text", "people", -0.5)]
    vectors = np.stack([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])
    mean = fused.fuse({"image": vectors[:1], "text": vectors[1:2]}, 1)[0]
    assert np.allclose(mean, unit(1, 1, 0))
    assert np.allclose(compose_vector(parts, vectors, fused), unit(*(2 * mean - 0.5 * vectors[2])), atol=1e-6)


def test_a_query_of_one_modality_is_not_fused_as_an_item():
    """A trained fusion changes even a lone part (a residual module adds its correction); a text query must stay
    the text's vector, which is what the fusion model was trained to match against fused items."""
    torch.manual_seed(0)
    fusion = build_fusion("attention", (3, 3), 3, residual=True, heads=1)
    with torch.no_grad():
        fusion.scale.fill_(5.0)
    fused = FusedEncoder(_Unit(), "attention", fusion)
    vectors = np.stack([unit(1, 0, 0), unit(0, 1, 0)])
    assert not np.allclose(fused.fuse({"text": vectors[1:2]}, 1)[0], vectors[1], atol=1e-3)
    assert np.allclose(compose_vector([QueryPart("text", "in red")], vectors[1:2], fused), vectors[1], atol=1e-6)
    both = [QueryPart("image", Path("shoe.jpg")), QueryPart("text", "in red")]
    item_like = fused.fuse({"image": vectors[:1], "text": vectors[1:2]}, 1)[0]
    assert np.allclose(compose_vector(both, vectors, fused), item_like, atol=1e-6)
