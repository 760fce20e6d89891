"""The report's figures, drawn with matplotlib's Agg backend (no display) and saved as PNG."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

SIZE = (5.2, 3.6)
DPI = 100
MAX_LEGEND_GROUPS = 10


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    _pyplot().close(figure)
    return path


def recall_curves(curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], title: str, path: Path) -> Path:
    """Recall@K against K (log scale), one line per model."""
    plt = _pyplot()
    from matplotlib import ticker

    figure, axes = plt.subplots(figsize=SIZE)
    for label, (ks, values) in curves.items():
        axes.plot(ks, values, marker=".", markersize=3, label=label)
    axes.set(xscale="log", xlabel="K", ylabel="Recall@K", ylim=(0, 1.02), title=title)
    axes.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))  # 10, not 10^1
    axes.xaxis.set_minor_formatter(ticker.NullFormatter())
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    return _save(figure, path)


def precision_recall_curves(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str,
                            path: Path) -> Path:
    """11-point interpolated precision against recall, one line per model."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=SIZE)
    for label, (recall, precision) in curves.items():
        axes.plot(recall, precision, marker="o", markersize=3, label=label)
    axes.set(xlabel="recall", ylabel="interpolated precision", xlim=(0, 1), ylim=(0, 1.02), title=title)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    return _save(figure, path)


def score_distributions(relevant: np.ndarray, other: np.ndarray, title: str, path: Path) -> Path:
    """Densities of the scores of relevant and of non-relevant (query, candidate) pairs."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=SIZE)
    bins = np.linspace(min(relevant.min(initial=1), other.min(initial=1)),
                       max(relevant.max(initial=-1), other.max(initial=-1)), 60)
    axes.hist(other, bins=bins, density=True, alpha=0.55, color="tab:red", label=f"not relevant ({other.size:,})")
    axes.hist(relevant, bins=bins, density=True, alpha=0.55, color="tab:green", label=f"relevant ({relevant.size:,})")
    axes.set(xlabel="score (cosine)", ylabel="density", title=title)
    axes.legend(fontsize=8)
    return _save(figure, path)


def embedding_map(points: np.ndarray, groups: Sequence[str], title: str, path: Path) -> Path:
    """A scatter of 2-D points coloured by group (the largest groups get colours; the rest are grey)."""
    plt = _pyplot()
    names, counts = np.unique(np.asarray(groups), return_counts=True)
    shown = names[np.argsort(-counts, kind="stable")][:MAX_LEGEND_GROUPS]
    many = len(names) > 3  # then the legend goes beside the map, not over it
    figure, axes = plt.subplots(figsize=(SIZE[0] * (1.35 if many else 1), SIZE[0] * 0.8))
    groups = np.asarray(groups)
    rest = ~np.isin(groups, shown)
    if rest.any():
        axes.scatter(*points[rest].T, s=4, color="lightgrey", label=f"other ({rest.sum()})")
    for name in shown:
        mine = groups == name
        axes.scatter(*points[mine].T, s=6, alpha=0.8, label=f"{name} ({mine.sum()})")
    axes.set(title=title, xticks=[], yticks=[])
    if many:
        axes.legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    else:
        axes.legend(fontsize=7, markerscale=2, loc="best")
    return _save(figure, path)


def heatmap_overlay(image, heat: np.ndarray, path: Path, title: str = "") -> Path:
    """`heat` (rows, cols) stretched over the image: red where hiding the region lowers the score, blue where
    it raises it."""
    plt = _pyplot()
    width, height = image.size
    figure, axes = plt.subplots(figsize=(3, 3 * height / width))
    limit = float(np.abs(heat).max()) or 1.0
    axes.imshow(image)
    axes.imshow(heat, extent=(0, width, height, 0), cmap="coolwarm", vmin=-limit, vmax=limit, alpha=0.5,
                interpolation="bilinear")
    axes.set(xticks=[], yticks=[], title=title)
    return _save(figure, path)
