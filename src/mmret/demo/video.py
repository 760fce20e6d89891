"""The demo's video part: a slideshow of three of the demo photos, indexed as shots, searched by text for the moment."""
from __future__ import annotations

from pathlib import Path

from ..api import Collection
from ..data.decode import read_image
from ..encoders.base import Encoder
from ..media.segments import END, START

FPS, SECONDS, SIZE = 8, 2, (256, 192)
# (package, photo, the query that should find its shot); a video's shots have no words of their own, so these are
# photos the default model finds by meaning alone (it ranks skimage's rocket 12th of the 18 demo photos for
# "a rocket": the photo part of the demo finds that one by its file name)
SLIDES = [("skimage", "chelsea.png", "a cat"), ("skimage", "motorcycle_left.png", "a motorcycle"),
          ("skimage", "coffee.png", "a cup of coffee")]


def run_video_demo(out: Path, encoder: Encoder, photos: list[Path]) -> tuple[int, int]:
    """Write the slideshow, index it, run one query per slide; (queries whose top hit is the right shot, queries)."""
    video = write_slideshow(out / "slideshow.mp4", photos)
    collection = Collection.open(out / "video-collection", encoder)
    collection.add([video])
    print(f"\nvideo {video.name}: {len(photos)} shots of {SECONDS} s, indexed as {len(collection) - 1} shot segments")
    found = 0
    for number, (_, _, query) in enumerate(SLIDES):
        hit = collection.search(text=query, k=1)[0]
        start, end = hit.record.metadata[START], hit.record.metadata[END]
        right = start < (number + 1) * SECONDS and number * SECONDS < end
        found += right
        print(f"[{'ok ' if right else 'MISS'}] {query!r} -> {video.name} @ {start:.1f}-{end:.1f} s "
              f"(expected {number * SECONDS}-{(number + 1) * SECONDS} s)")
    return found, len(SLIDES)


def write_slideshow(path: Path, photos: list[Path]) -> Path:
    """An H.264 MP4 showing each photo for SECONDS seconds (hard cuts between them)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        for photo in photos:
            frame = av.VideoFrame.from_image(read_image(str(photo)).resize(SIZE))
            for _ in range(FPS * SECONDS):
                container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path
