"""A served collection built once per session: coloured squares, a two-shot video and shared photos, embedded by
a tiny colour encoder (these tests are about HTTP, not retrieval quality)."""
from __future__ import annotations

import shutil
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from PIL import Image

from mmret.data.decode import load_rgb
from mmret.encoders.base import SHARED, Encoder, l2_normalise

KEY = "test-key-0123456789"
COLOURS = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220)}
PHOTOS = 12  # shared Flickr8k photos beside the squares
UPLOAD_LIMIT = 300_000


def mean_colour(image) -> np.ndarray:
    return np.asarray(load_rgb(image), dtype=np.float32).reshape(-1, 3).mean(axis=0) / 255 + 0.02


class ColourEncoder(Encoder):
    """An image is its mean colour (RGB); a text is the colour it names. One 3-d shared space."""

    model_id = "test-colour"
    modalities = ("text", "image")
    spaces = MappingProxyType({SHARED: 3})

    def preparer(self, modality):
        self._check(modality)
        return mean_colour if modality == "image" else str

    def embed_prepared(self, modality, batch):
        if modality == "image":
            return {SHARED: l2_normalise(np.stack(batch))}
        rows = [np.asarray(next((c for name, c in COLOURS.items() if name in t), (90, 90, 90)), np.float32) + 5
                for t in batch]
        return {SHARED: l2_normalise(np.stack(rows))}


def square(path: Path, colour: tuple[int, int, int], side: int = 64) -> Path:
    Image.new("RGB", (side, side), colour).save(path)
    return path


def two_shot_video(path: Path, first=(220, 20, 20), second=(20, 20, 220), seconds: float = 3.0, fps: int = 10) -> Path:
    """An MP4 (H.264) that is `first` for `seconds`, then `second` for as long."""
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for index in range(int(2 * seconds * fps)):
            colour = first if index < seconds * fps else second
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), colour, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="session")
def media_root(tmp_path_factory, data_dir) -> Path:
    root = tmp_path_factory.mktemp("media")
    for name, colour in COLOURS.items():
        square(root / f"{name}.png", colour)
    (root / "photos").mkdir()
    for photo in sorted((data_dir / "flickr8k-500" / "images").glob("*.jpg"))[:PHOTOS]:
        shutil.copy(photo, root / "photos" / photo.name)  # a temp copy: the shared folder stays read-only
    two_shot_video(root / "clip.mp4")
    return root


def client_for(folder: Path, media_root: Path, thumbnails: Path, **overrides):
    """A TestClient (as a context manager) of a server over a new collection of `media_root`."""
    from fastapi.testclient import TestClient

    from mmret.api import Collection
    from mmret.serve.app import create_app
    from mmret.serve.security import digest
    from mmret.serve.settings import ServeSettings

    collection = Collection.open(folder, model=ColourEncoder())
    report = collection.add([media_root], workers=0)
    assert not report.skipped, report.skipped
    options = {"roots": [media_root], "api_keys": [digest(KEY)], "max_upload_bytes": UPLOAD_LIMIT,
               "thumbnail_dir": thumbnails, "refresh_interval": 0.0, **overrides}
    return TestClient(create_app(collection, ServeSettings(**options)), base_url="http://localhost")


@pytest.fixture(scope="session")
def served(tmp_path_factory, media_root):
    """(TestClient, collection dir, media root): read-only use, shared by the session."""
    folder = tmp_path_factory.mktemp("collection") / "c"
    with client_for(folder, media_root, tmp_path_factory.mktemp("thumbs")) as client:
        yield client, folder, media_root


@pytest.fixture
def writable(tmp_path):
    """(TestClient, collection dir, media root) over three squares, for tests that write."""
    root = tmp_path / "media"
    root.mkdir()
    for name, colour in COLOURS.items():
        square(root / f"{name}.png", colour)
    with client_for(tmp_path / "c", root, tmp_path / "thumbs") as client:
        yield client, tmp_path / "c", root
