"""HTML pieces of the report: media copied into the report folder (image thumbnails, audio and video files),
gallery cards and explanation views. Every text from a data set is escaped."""
from __future__ import annotations

import hashlib
import shutil
from html import escape
from pathlib import Path

from ..data.decode import DecodeError, read_image
from ..data.items import Item
from .explain import Explanation
from .gallery import GalleryQuery, Shown

THUMBNAIL = 160
SHOWN_WORDS = 40
LABEL_CHARACTERS = 60

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1400px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
table.metrics { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.metrics td, table.metrics th { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; }
table.metrics td:first-child, table.metrics th:first-child { text-align: left; }
.ci { color: #888; font-size: 11px; white-space: nowrap; }
.plots { display: flex; flex-wrap: wrap; gap: 8px; } .plots img { height: 290px; border: 1px solid #eee; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
.query { display: flex; gap: 12px; padding: 10px 0; border-bottom: 1px solid #eee; align-items: flex-start; }
.query > .head { width: 180px; flex: none; }
.query > .head img { width: 170px; height: auto; } .stat { color: #666; font-size: 12px; }
.results { display: flex; gap: 6px; flex-wrap: wrap; align-items: flex-start; }
.card { width: 150px; border: 3px solid #ccc; border-radius: 4px; padding: 4px; font-size: 12px; }
.card.hit { border-color: #2a9d3a; } .card.miss { border-color: #d33; } .card.expected { border-style: dashed; }
.card img { width: 150px; height: 112px; object-fit: cover; display: block; }
.text { font-size: 12px; max-height: 120px; overflow: hidden; }
.labels { color: #555; font-size: 11px; font-style: italic; }
.mark { font-weight: bold; } .hit .mark { color: #2a9d3a; } .miss .mark { color: #d33; }
.why { margin-top: 4px; border-top: 1px dotted #bbb; padding-top: 3px; }
.why img.heat { width: 150px; height: auto; object-fit: contain; }
.word { padding: 0 1px; border-radius: 2px; }
audio, video { width: 150px; }
"""


class MediaStore:
    """Copies what the gallery shows into `out_dir/media`, once per file: images as JPEG thumbnails, audio and
    video as they are; returns paths relative to the report."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.folder = out_dir / "media"
        self.folder.mkdir(parents=True, exist_ok=True)

    def html(self, item: Item) -> str:
        if item.modality == "text":
            return f'<div class="text">{escape(item.text or "")}</div>'
        try:
            source = self._copy(item)
        except (OSError, DecodeError) as error:
            return f'<div class="text">cannot show {escape(item.id)}: {escape(str(error))}</div>'
        if item.modality == "image":
            return f'<img loading="lazy" src="{source}" alt="{escape(item.id)}" title="{escape(item.id)}">'
        tag = "audio" if item.modality == "audio" else "video"
        return f'<{tag} controls preload="none" src="{source}" title="{escape(item.id)}"></{tag}>'

    def _copy(self, item: Item) -> str:
        digest = hashlib.sha1(str(item.path).encode()).hexdigest()[:16]
        suffix = ".jpg" if item.modality == "image" else Path(item.path).suffix.lower()
        target = self.folder / f"{digest}{suffix}"
        if not target.exists():
            if item.modality == "image":
                image = read_image(item.path, min_side=THUMBNAIL)
                image.thumbnail((THUMBNAIL * 2, THUMBNAIL * 2))
                image.save(target, quality=85)
            else:
                shutil.copyfile(item.path, target)
        return target.relative_to(self.out_dir).as_posix()


def gallery_html(entries: list[GalleryQuery], media: MediaStore, heatmaps: dict[int, str]) -> str:
    """The gallery's queries; `heatmaps` maps id(explanation) to its heat map PNG (relative path)."""
    return "\n".join(_query_html(entry, media, heatmaps) for entry in entries) or "<p>No answerable query.</p>"


def _query_html(entry: GalleryQuery, media: MediaStore, heatmaps: dict[int, str]) -> str:
    cards = [_card(shown, media, heatmaps) for shown in entry.results]
    if entry.first_relevant:
        cards.append(_card(entry.first_relevant, media, heatmaps, expected=True))
    return (f'<div class="query"><div class="head">{media.html(entry.item)}'
            f'{_labels(entry.item)}<div class="stat">AP {entry.average_precision:.3f} · '
            f'first relevant at rank {entry.first_relevant_rank}</div></div>'
            f'<div class="results">{"".join(cards)}</div></div>')


def _card(shown: Shown, media: MediaStore, heatmaps: dict[int, str], expected: bool = False) -> str:
    kind = "hit" if shown.relevant else "miss"
    mark = "✓ relevant" if shown.relevant else "✗ not relevant"
    note = " (first relevant)" if expected else ""
    why = _explanation_html(shown.explanation, heatmaps) if shown.explanation else ""
    return (f'<div class="card {kind}{" expected" if expected else ""}">'
            f'{media.html(shown.item)}{_labels(shown.item)}'
            f'<div><span class="mark">{mark}</span>{note}<br>rank {shown.rank} · score {shown.score:.3f}</div>'
            f'{why}</div>')


def _labels(item: Item) -> str:
    """The item's class or categories, which decide relevance in labelled tasks."""
    labels = item.metadata.get("label") or item.metadata.get("categories") or item.metadata.get("category")
    if not labels:
        return ""
    text = ", ".join(labels) if isinstance(labels, list) else str(labels)
    return f'<div class="labels" title="{escape(text)}">{escape(text[:LABEL_CHARACTERS])}</div>'


def _explanation_html(explanation: Explanation, heatmaps: dict[int, str]) -> str:
    parts = ['<div class="why"><b>why</b> ' + _words_html(explanation) + "</div>"]
    if explanation.classes:
        rows = "".join(f"<li>{escape(c.name)} <span class='ci'>p {c.probability:.2f}</span> "
                       f"{c.share:+.3f}</li>" for c in explanation.classes[:3])
        parts.append(f'<div class="why">classes (share of score):<ul style="margin:0;padding-left:16px">{rows}</ul>'
                     "</div>")
    if id(explanation) in heatmaps:
        parts.append(f'<div class="why"><img class="heat" src="{heatmaps[id(explanation)]}" '
                     'alt="occlusion heat map"></div>')
    return "".join(parts)


def _words_html(explanation: Explanation) -> str:
    words = explanation.words[:SHOWN_WORDS]
    scale = max((abs(w.share) for w in words), default=0.0) or 1.0
    spans = []
    for word in words:
        strength = min(1.0, abs(word.share) / scale)
        colour = (42, 157, 58) if word.share > 0 else (221, 51, 51)
        spans.append(f'<span class="word" style="background: rgba{(*colour, round(0.6 * strength, 2))}" '
                     f'title="{word.share:+.4f}">{escape(word.word)}</span>')
    return " ".join(spans)
