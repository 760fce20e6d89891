"""Exporting trained heads for the package: the numpy forward of the float16 heads matches the torch model's."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mmret.encoders.offline_heads import Head
from mmret.errors import BadInput
from mmret.training.model import ProjectionHead, RetrievalModel
from mmret.training.shipped import heads_arrays


@pytest.mark.parametrize("image_hidden, text_head, dropout", [(32, "linear", 0.0), (None, "identity", 0.1)])
def test_numpy_heads_match_the_torch_model(image_hidden, text_head, dropout):
    torch.manual_seed(0)
    text = ProjectionHead(12, 8) if text_head == "linear" else nn.Identity()
    model = RetrievalModel(ProjectionHead(20, 8 if text_head == "linear" else 12, image_hidden, dropout), text).eval()
    arrays = heads_arrays({name: value.numpy() for name, value in model.state_dict().items()})
    assert all(array.dtype == np.float16 for array in arrays.values())
    images, texts = torch.randn(5, 20), torch.randn(5, 12)
    with torch.no_grad():
        expected_images, expected_texts = model.project_images(images), model.project_texts(texts)
    np.testing.assert_allclose(Head.from_arrays(arrays, "image")(images.numpy()), expected_images, atol=3e-3)
    np.testing.assert_allclose(Head.from_arrays(arrays, "text")(texts.numpy()), expected_texts, atol=3e-3)


def test_a_model_with_more_than_heads_cannot_ship():
    with pytest.raises(BadInput, match="only frozen-tower heads"):
        heads_arrays({"image_head.0.weight": np.zeros((2, 2)), "image_tower.block.weight": np.zeros(2)})
