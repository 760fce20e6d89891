"""Validation during training: text<->image retrieval metrics of the model's vectors, computed exactly as
`mmret.eval.benchmark.evaluate` computes them (same ranking, same metric definitions)."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..eval.benchmark import REPORTED_METRICS
from ..eval.metrics import Ranking, mean_metrics
from .model import RetrievalModel

CHUNK = 256


def retrieval_results(image_vectors: np.ndarray, text_vectors: np.ndarray, relevance: np.ndarray) -> dict:
    """{task: {metric: value}} for text->image and image->text; relevance is (n_texts, n_images) bool."""
    scores = text_vectors @ image_vectors.T
    return {"text->image": mean_metrics(Ranking.from_scores(scores, relevance), REPORTED_METRICS),
            "image->text": mean_metrics(Ranking.from_scores(scores.T, relevance.T), REPORTED_METRICS)}


def metric_value(results: dict, name: str) -> float:
    """A value by its name such as "text->image R@5"."""
    task, _, metric = name.partition(" ")
    return results[task][metric]


class Validator:
    """The metrics of a model on fixed validation inputs (image features or pixels, and text features)."""

    def __init__(self, image_inputs: Tensor, text_inputs: Tensor, relevance: np.ndarray):
        self.image_inputs, self.text_inputs, self.relevance = image_inputs, text_inputs, relevance

    def __call__(self, model: RetrievalModel, device: str = "cpu") -> dict:
        """`device`: where the model is (a resolved torch device); the inputs go there chunk by chunk."""
        was_training = model.training
        model.eval()
        with torch.no_grad():
            images = torch.cat([model.embed_images(chunk.to(device)) for chunk in self.image_inputs.split(CHUNK)])
            texts = torch.cat([model.embed_texts(chunk.to(device)) for chunk in self.text_inputs.split(CHUNK)])
        model.train(was_training)
        return retrieval_results(images.float().cpu().numpy(), texts.float().cpu().numpy(), self.relevance)
