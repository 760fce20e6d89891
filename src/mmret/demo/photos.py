"""`mmret demo`: index real photos that ship inside installed packages and answer example queries, offline."""
from __future__ import annotations

import base64
import html
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..api import Collection
from ..data.decode import read_image
from ..errors import MissingPackage
from ..index.values import CollectionError

# (package, file within its data folder, what it shows)
PHOTOS = [
    ("skimage", "astronaut.png", "astronaut"), ("skimage", "chelsea.png", "cat"),
    ("skimage", "coffee.png", "coffee"), ("skimage", "rocket.jpg", "rocket"),
    ("skimage", "motorcycle_left.png", "motorcycle"), ("skimage", "moon.png", "moon"),
    ("skimage", "coins.png", "coins"), ("skimage", "camera.png", "cameraman"),
    ("skimage", "brick.png", "brick wall"), ("skimage", "grass.png", "grass"),
    ("skimage", "gravel.png", "gravel"), ("skimage", "chessboard_RGB.png", "chessboard"),
    ("skimage", "hubble_deep_field.jpg", "galaxies"), ("skimage", "page.png", "page of text"),
    ("skimage", "horse.png", "horse silhouette"), ("skimage", "clock_motion.png", "clock"),
    ("sklearn", "china.jpg", "temple"), ("sklearn", "flower.jpg", "flower"),
]
TEXT_QUERIES = [
    ("a cat", "chelsea.png"), ("a cup of coffee", "coffee.png"), ("a rocket", "rocket.jpg"),
    ("a motorcycle", "motorcycle_left.png"), ("the moon", "moon.png"), ("coins", "coins.png"),
    ("an astronaut", "astronaut.png"), ("a chinese temple", "china.jpg"), ("a flower", "flower.jpg"),
    ("a brick wall", "brick.png"), ("a chessboard", "chessboard_RGB.png"), ("a clock", "clock_motion.png"),
]
# another photo of the same motorcycle, not in the collection
IMAGE_QUERY = (("skimage", "motorcycle_right.png"), "motorcycle_left.png")


@dataclass
class QueryResult:
    query: str
    expected: str
    hits: list  # list[Hit]

    @property
    def found_first(self) -> bool:
        return bool(self.hits) and Path(self.hits[0].record.path).name == self.expected


def package_data(package: str, name: str) -> Path:
    if package == "skimage":
        import skimage.data

        return Path(skimage.data.__file__).parent / name
    import sklearn.datasets

    return Path(sklearn.datasets.__file__).parent / "images" / name


def run_demo(out: Path, model: str = "offline", precision: str = "auto") -> int:
    try:
        photos = [package_data(package, name) for package, name, _ in PHOTOS]
        image_query = package_data(*IMAGE_QUERY[0])
    except ImportError as e:
        raise MissingPackage(f"the demo's photos ship with scikit-image and scikit-learn: pip install 'mmret[demo]' "
                             f"({e})") from e
    out.mkdir(parents=True, exist_ok=True)
    collection = _demo_collection(out / "collection", model, precision)
    report = collection.add(photos, progress=False)
    print(f"collection {out / 'collection'} ({collection.store.model_id}): {report.summary()}, {len(collection)} photos")

    results = [QueryResult(text, expected, collection.search(text=text, k=3)) for text, expected in TEXT_QUERIES]
    results.append(QueryResult(f"image: {image_query.name}", IMAGE_QUERY[1], collection.search(image=image_query, k=3)))
    for result in results:
        _print_result(result)
    found = sum(r.found_first for r in results)
    print(f"\n{found} of {len(results)} example queries found their expected photo at rank 1")
    page = out / "results.html"
    page.write_text(_html_page(results, collection.store.model_id, found))
    print(f"results page: {page}")
    _video_part(out, collection)
    return 0


def _video_part(out: Path, photos: Collection) -> None:
    try:
        import av  # noqa: F401 -- video needs PyAV
    except ImportError:
        print("\nvideo part skipped: it needs PyAV (pip install 'mmret[video]')")
        return
    from .video import SLIDES, run_video_demo

    slides = [package_data(package, name) for package, name, _ in SLIDES]
    found, total = run_video_demo(out, photos.encoder, slides)
    print(f"{found} of {total} video queries found the right shot first")


def _demo_collection(path: Path, model: str, precision: str) -> Collection:
    """The demo's own collection; one left by another model (an older mmret) is rebuilt."""
    try:
        return Collection.open(path, model, precision)
    except CollectionError as e:
        print(f"rebuilding the demo collection: {e}")
        shutil.rmtree(path)
        return Collection.open(path, model, precision)


def _print_result(result: QueryResult) -> None:
    mark = "ok " if result.found_first else "MISS"
    print(f"\n[{mark}] {result.query!r} (expected {result.expected})")
    for rank, hit in enumerate(result.hits, 1):
        print(f"   {rank}. {hit.score:.3f}  {Path(hit.record.path).name}")


def _thumbnail(path: str, side: int = 160) -> str:
    image = read_image(path)
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _html_page(results: list[QueryResult], model_id: str, found: int) -> str:
    rows = []
    for result in results:
        cells = "".join(
            f'<figure class="{"hit" if Path(h.record.path).name == result.expected else ""}">'
            f'<img src="{_thumbnail(h.record.path)}"><figcaption>{i}. {html.escape(Path(h.record.path).name)}'
            f" &middot; {h.score:.3f}</figcaption></figure>"
            for i, h in enumerate(result.hits, 1))
        rows.append(f"<tr><th>{html.escape(result.query)}<br><small>expected {html.escape(result.expected)}"
                    f"</small></th><td>{cells}</td></tr>")
    return f"""<!doctype html><meta charset="utf-8"><title>mmret demo</title>
<style>body{{font-family:sans-serif;margin:2em}}th{{text-align:left;width:14em;vertical-align:top}}
figure{{display:inline-block;margin:.3em;padding:.3em;border:3px solid #ddd}}figure.hit{{border-color:#2a2}}
img{{height:120px}}figcaption{{font-size:.8em}}</style>
<h1>mmret demo</h1><p>model <code>{html.escape(model_id)}</code>: {found} of {len(results)} queries found their
expected photo at rank 1 (green frame).</p><table>{"".join(rows)}</table>
"""

