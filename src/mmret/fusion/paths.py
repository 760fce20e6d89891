"""Learned decision-level fusion of the paths of one vector space (a video's shots, sound windows and speech all
sit in the shared space, but their cosines to a text are on different scales, and a query usually means one path).

A hit's fused score is the log-odds a router gives the hit's path for the query plus the path's calibrated score:

    fused(q, item) = log P(path | q) + (cos(q, item) - mean_path) / std_path

`mean_path` and `std_path` are the scores that example queries get against that path's items (SpaceCalibration);
the router is a multinomial logistic regression on the query vector, fitted on example queries labelled with
the path each one targets ("a dog runs on grass": shot; "the sound of rain": sound). Both come from example
queries, never from relevance judgements, so any held-out queries measure it fairly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import BadInput
from .scores import SpaceCalibration

ROUTER_L2 = 1e-3  # weight decay of the router: keeps it smooth with a few dozen examples per path


@dataclass(frozen=True)
class PathFusion:
    calibrations: dict[str, SpaceCalibration]
    weights: np.ndarray  # (paths, dim) router weights, rows in the order of `calibrations`
    bias: np.ndarray  # (paths,)

    @property
    def paths(self) -> list[str]:
        return list(self.calibrations)

    @classmethod
    def fit(cls, examples: dict[str, np.ndarray], items: dict[str, np.ndarray]) -> PathFusion:
        """From example query vectors per path ({path: (n, d)}) and each path's item vectors ({path: (m, d)})."""
        missing = sorted(set(items) - set(examples))
        if missing:
            raise BadInput(f"path fusion needs example queries for every path; none for {missing}")
        unknown = sorted(set(examples) - set(items))
        if unknown:
            raise BadInput(f"example queries for paths the space has no items of: {unknown}")
        paths = sorted(items)
        queries = np.concatenate([np.asarray(examples[p], dtype=np.float32) for p in paths])
        calibrations = {p: SpaceCalibration.fit(queries @ np.asarray(items[p], dtype=np.float32).T) for p in paths}
        labels = np.concatenate([np.full(len(examples[p]), i) for i, p in enumerate(paths)])
        weights, bias = _fit_router(queries, labels, len(paths))
        return cls(calibrations, weights, bias)

    def log_prior(self, query: np.ndarray) -> dict[str, float]:
        """log P(path | query) for one unit query vector."""
        logits = self.weights @ np.asarray(query, dtype=np.float64) + self.bias
        logits -= logits.max()
        log_p = logits - np.log(np.exp(logits).sum())
        return dict(zip(self.paths, log_p.tolist()))

    def fused(self, path: str, scores: np.ndarray, log_prior: dict[str, float]) -> np.ndarray:
        """The fused scores of one path's raw scores for the query whose log_prior is given."""
        return self.calibrations[path](scores) + log_prior[path]

    def to_dict(self) -> dict:
        return {"calibrations": {p: c.to_dict() for p, c in self.calibrations.items()},
                "weights": self.weights.tolist(), "bias": self.bias.tolist()}

    @classmethod
    def from_dict(cls, stored: dict) -> PathFusion:
        try:
            calibrations = {p: SpaceCalibration(**c) for p, c in stored["calibrations"].items()}
            weights, bias = np.asarray(stored["weights"], dtype=np.float64), np.asarray(stored["bias"], dtype=np.float64)
        except (KeyError, TypeError) as error:
            raise BadInput(f"a stored path fusion is malformed ({error!r})") from None
        if weights.shape[0] != len(calibrations) or bias.shape != (len(calibrations),):
            raise BadInput(f"a stored path fusion has {len(calibrations)} paths but router shapes "
                           f"{weights.shape} and {bias.shape}")
        return cls(calibrations, weights, bias)


def _fit_router(queries: np.ndarray, labels: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced multinomial logistic regression (L-BFGS); one class: a router that always says log 1 = 0."""
    if classes == 1:
        return np.zeros((1, queries.shape[1])), np.zeros(1)
    x, y = torch.from_numpy(queries), torch.from_numpy(labels).long()
    balance = torch.tensor([len(y) / (classes * int((y == c).sum())) for c in range(classes)])
    linear = torch.nn.Linear(x.shape[1], classes)
    optimiser = torch.optim.LBFGS(linear.parameters(), max_iter=200)

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        value = torch.nn.functional.cross_entropy(linear(x), y, weight=balance) + ROUTER_L2 * linear.weight.pow(2).sum()
        value.backward()
        return value

    with torch.no_grad():  # zero start: the same examples always give the same router
        linear.weight.zero_()
        linear.bias.zero_()
    optimiser.step(loss)
    return linear.weight.detach().double().numpy(), linear.bias.detach().double().numpy()
