"""The caption corpus: each image's first N captions only (data.captions_per_image)."""
from __future__ import annotations

import numpy as np

from mmret.training.corpus import CaptionCorpus


def test_first_captions_keeps_each_images_first_ones_in_order():
    corpus = CaptionCorpus([None, None], ["a0", "a1", "a2", "b0", "b1"], np.array([0, 0, 0, 1, 1]))
    two = corpus.first_captions(2)
    assert two.texts == ["a0", "a1", "b0", "b1"] and two.image_of_text.tolist() == [0, 0, 1, 1]
    assert corpus.first_captions(1).texts == ["a0", "b0"]
    assert corpus.first_captions(None) is corpus
