"""`write_report`: a self-contained HTML report of one or several evaluations on one benchmark: a folder with
index.html, results.json, PNG plots and the media the gallery shows.

Per task: Recall@K curves and 11-point precision-recall curves (all models on one plot), the score
distributions of relevant vs non-relevant pairs, a 2-D map of the embedding space (t-SNE or PCA), and a
gallery of the worst queries with their top results marked right or wrong (images as thumbnails, audio and
video playable), explained when an encoder is given. Metrics carry bootstrap 95% confidence intervals; with
several models, a comparison table with paired tests against the first.
"""
from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from html import escape
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..encoders.base import Encoder
from ..errors import BadInput
from . import plots
from .compare import compare_evaluations, format_comparison
from .curves import RECALL_LEVELS, interpolated_precision, recall_curve
from .evaluation import Evaluation, TaskRun
from .gallery import SIZE, TOP_K, gallery
from .metrics import REPORTED_METRICS, summarise, summary_function
from .projection import project_2d, sample_rows
from .report_html import STYLE, MediaStore, gallery_html
from .stats import bootstrap_ci

MAP_POINTS = 1500
SCORE_SAMPLE = 200_000
CURVE_POINTS = 30
RESAMPLES = 1000


def write_report(evaluations: Evaluation | Sequence[Evaluation], out_dir: str | Path,
                 encoders: Encoder | Sequence[Encoder | None] | None = None, comparison: dict | None = None,
                 gallery_size: int = SIZE, top_k: int = TOP_K, explain_top: int = 1, heatmaps: bool | None = None,
                 map_method: str = "auto", map_points: int = MAP_POINTS, resamples: int = RESAMPLES,
                 seed: int = 0, progress: bool = False) -> Path:
    """Write the report into `out_dir` and return the path of its index.html. `encoders` (one per evaluation,
    or one for a single evaluation) enable explanations in the gallery; `heatmaps` as in `explain`. `progress`
    shows a bar over its stages (statistics, each task's plots and each model's gallery)."""
    evaluations = [evaluations] if isinstance(evaluations, Evaluation) else list(evaluations)
    encoders = _per_model(encoders, len(evaluations))
    stages = tqdm(total=1 + len(evaluations[0].tasks) * (1 + len(evaluations)), desc="report", unit="stage",
                  disable=not progress)
    stages.set_postfix_str("statistics")
    out = Path(out_dir)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    if comparison is None and len(evaluations) > 1:
        comparison = compare_evaluations(evaluations, resamples=resamples, seed=seed)
    media = MediaStore(out)
    sections = [_header(evaluations), _summary(evaluations, resamples, seed)]
    if comparison:
        sections.append(f"<h2>Comparison</h2><pre>{escape(format_comparison(comparison))}</pre>")
    drawn_maps: set = set()
    for task in evaluations[0].tasks:
        runs = {e.model: e.tasks[task] for e in evaluations if task in e.tasks}
        sections.append(f"<h2>{escape(task)}</h2>")
        _next_stage(stages, f"{task} plots")
        sections.append(_plots(task, runs, out, drawn_maps, map_method, map_points, seed))
        for index, (evaluation, encoder) in enumerate(zip(evaluations, encoders)):
            _next_stage(stages, f"{task} gallery of {evaluation.model}")
            entries = gallery(evaluation.tasks[task], gallery_size, top_k, encoder, explain_top, heatmaps)
            saved = _save_heatmaps(entries, out, f"{task}-{index}")
            sections.append(f"<h3 id='gallery-{_slug(task)}-{index}'>Worst queries first: "
                            f"{escape(evaluation.model)}</h3>" + gallery_html(entries, media, saved))
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>mmret report: "
            f"{escape(evaluations[0].dataset)}</title><style>{STYLE}</style></head><body>"
            + "\n".join(sections) + "</body></html>")
    (out / "index.html").write_text(page, encoding="utf-8")
    _next_stage(stages, "written")
    stages.close()
    results = {"evaluations": [e.summary() for e in evaluations], "comparison": comparison}
    (out / "results.json").write_text(json.dumps(results, indent=2, allow_nan=True) + "\n")
    return out / "index.html"


def _next_stage(bar: tqdm, name: str) -> None:
    bar.update()
    bar.set_postfix_str(name)


def _per_model(encoders: Encoder | Sequence[Encoder | None] | None, n: int) -> list[Encoder | None]:
    if encoders is None:
        return [None] * n
    encoders = [encoders] if isinstance(encoders, Encoder) else list(encoders)
    if len(encoders) != n:
        raise BadInput(f"{len(encoders)} encoders for {n} evaluations")
    return encoders


def _header(evaluations: list[Evaluation]) -> str:
    first = evaluations[0]
    items = ", ".join(f"{n} {pool}" for pool, n in first.n_items.items())
    failures = f"; {len(first.failures)} item(s) could not be embedded" if first.failures else ""
    return (f"<h1>mmret report: {escape(first.dataset)}</h1><p>Models: "
            + ", ".join(f"<code>{escape(e.model)}</code>" for e in evaluations)
            + f"<br>Items: {escape(items)}{escape(failures)}<br>Written "
            + datetime.datetime.now().strftime("%Y-%m-%d %H:%M") + "</p>")


def _summary(evaluations: list[Evaluation], resamples: int, seed: int) -> str:
    parts = [("<h2>Metrics</h2><p class='ci'>95% confidence intervals: percentile bootstrap over queries "
              f"({resamples} resamples). MedR, MeanR: rank of the first relevant item (lower is better).</p>")]
    for evaluation in evaluations:
        header = "".join(f"<th>{escape(m)}</th>" for m in REPORTED_METRICS)
        rows = []
        for task, run in evaluation.tasks.items():
            cells = "".join(_metric_cell(run, metric, resamples, seed) for metric in REPORTED_METRICS)
            rows.append(f"<tr><td>{escape(task)} <span class='ci'>{int(run.ranking.answerable.sum())} queries, "
                        f"{escape(run.space)} space</span></td>{cells}</tr>")
        parts.append(f"<h3>{escape(evaluation.model)}</h3><table class='metrics'><tr><th>task</th>{header}</tr>"
                     + "".join(rows) + "</table>")
    return "".join(parts)


def _metric_cell(run: TaskRun, metric: str, resamples: int, seed: int) -> str:
    values = run.per_query(metric)
    value = summarise(metric, values)
    low, high = bootstrap_ci(values, summary_function(metric), resamples=resamples, seed=seed)
    digits = 1 if abs(value) >= 10 else 3
    return f"<td>{value:.{digits}f}<br><span class='ci'>[{low:.{digits}f}, {high:.{digits}f}]</span></td>"


def _plots(task: str, runs: dict[str, TaskRun], out: Path, drawn_maps: set, map_method: str, map_points: int,
           seed: int) -> str:
    slug = _slug(task)
    any_run = next(iter(runs.values()))
    n = len(any_run.candidates) - any_run.excludes_self
    ks = np.unique(np.round(np.logspace(0, np.log10(max(n, 1)), CURVE_POINTS)).astype(int))
    figures = [
        plots.recall_curves({short_label(model): (ks, recall_curve(run.ranking, ks)) for model, run in runs.items()},
                            f"{task}: Recall@K", out / "plots" / f"{slug}-recall.png"),
        plots.precision_recall_curves({short_label(model): (RECALL_LEVELS, interpolated_precision(run.ranking))
                                       for model, run in runs.items()},
                                      f"{task}: precision-recall", out / "plots" / f"{slug}-pr.png"),
    ]
    for index, (model, run) in enumerate(runs.items()):
        relevant, other = _pair_scores(run, seed)
        figures.append(plots.score_distributions(relevant, other, _titled(f"{task}: scores", model, len(runs)),
                                                 out / "plots" / f"{slug}-scores-{index}.png"))
        key = (model, run.space, frozenset(task.split("->")))
        if key not in drawn_maps:
            drawn_maps.add(key)
            figures.append(_embedding_map(run, _titled(f"{run.space} space", model, len(runs)),
                                          out / "plots" / f"{slug}-map-{index}.png", map_method, map_points, seed))
    return "<div class='plots'>" + "".join(
        f"<img src='{f.relative_to(out).as_posix()}' alt='{escape(f.stem)}'>" for f in figures) + "</div>"


def _pair_scores(run: TaskRun, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores of relevant pairs and of a sample of non-relevant ones, without self-pairs and unanswerable rows."""
    scores = run.scores()
    keep = np.ones(scores.shape, dtype=bool) if run.exclusions() is None else ~run.exclusions()
    keep &= run.ranking.answerable[:, None]
    relevant = scores[run.relevance & keep]
    other = scores[~run.relevance & keep]
    if other.size > SCORE_SAMPLE:
        other = np.random.default_rng(seed).choice(other, SCORE_SAMPLE, replace=False)
    return relevant, other


def _embedding_map(run: TaskRun, title: str, path: Path, method: str, limit: int, seed: int) -> Path:
    pools = [(run.candidates, run.candidate_vectors, "candidate")]
    if not run.excludes_self:
        pools.append((run.queries, run.query_vectors, "query"))
    vectors, groups = [], []
    for items, matrix, role in pools:
        rows = sample_rows(len(items), limit // len(pools), seed)
        vectors.append(matrix[rows])
        groups += [_group(items[i], role, len(pools)) for i in rows]
    points, used = project_2d(np.vstack(vectors), method, seed)
    return plots.embedding_map(points, groups, f"{title} ({used.upper()})", path)


def _group(item, role: str, n_pools: int) -> str:
    if n_pools == 1:
        return str(item.metadata.get("label", item.modality))
    return f"{role}: {item.modality}"


def _save_heatmaps(entries, out: Path, prefix: str) -> dict[int, str]:
    saved = {}
    for entry in entries:
        for shown in [*entry.results, entry.first_relevant]:
            explanation = shown.explanation if shown else None
            if explanation is not None and explanation.heatmap is not None:
                path = out / "plots" / f"heat-{_slug(prefix)}-{len(saved)}.png"
                explanation.save_heatmap(path)
                saved[id(explanation)] = path.relative_to(out).as_posix()
    return saved


def short_label(model: str, limit: int = 36) -> str:
    """A model id short enough for a legend."""
    return model if len(model) <= limit else model[: limit - 1] + "…"


def _titled(title: str, model: str, n_models: int) -> str:
    return title if n_models == 1 else f"{title} ({short_label(model)})"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")[:80]
