"""The HTML report: a self-contained folder whose every link resolves, the gallery worst-first with correct
marks, audio playable, explanations shown, and (with chromium) a page that renders to a non-blank screenshot."""
import json
import re
import shutil
import subprocess
import wave
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmret.data.datasets import captions, fsdd
from mmret.encoders.base import SHARED
from mmret.eval.benchmark import evaluate_in_detail
from mmret.eval.evaluation import evaluation_from_vectors
from mmret.eval.report import write_report

CHROMIUM = Path("/usr/bin/chromium")


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        self.sources += [value for name, value in attrs if name == "src"]


def linked_files(index: Path) -> list[Path]:
    parser = Links()
    parser.feed(index.read_text())
    return [index.parent / source for source in parser.sources]


def detailed(encoder, dataset):
    return evaluate_in_detail(encoder, dataset, batch_size=8, workers=0, progress=False)


def test_report_folder_is_self_contained_and_lists_every_task(small_captions, make_encoder, tmp_path):
    index = write_report(detailed(make_encoder(0.5), small_captions), tmp_path / "report", gallery_size=5,
                         map_method="pca", resamples=200)
    html = index.read_text()
    for task in small_captions.tasks:
        assert f"<h2>{task.replace('>', '&gt;')}</h2>" in html
    files = linked_files(index)
    assert len(files) >= 8 and all(f.is_file() for f in files)
    assert all(f.resolve().is_relative_to((tmp_path / "report").resolve()) for f in files)
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["evaluations"][0]["model"] == "keyed" and results["comparison"] is None


def test_gallery_is_worst_first_and_marks_match_the_relevance(small_captions, make_encoder, tmp_path):
    index = write_report(detailed(make_encoder(0.5), small_captions), tmp_path, gallery_size=8, top_k=3,
                         map_method="pca", resamples=100)
    html = index.read_text()
    text_to_image = html[html.index("<h2>text-&gt;image"):html.index("<h2>image-&gt;text")]
    precisions = [float(ap) for ap in re.findall(r"AP (\d\.\d+)", text_to_image)]
    assert len(precisions) == 8 and precisions == sorted(precisions)
    checked = 0
    for query in re.findall(r'<div class="query">.*?</div></div></div>', text_to_image)[:8]:
        number = re.search(r"photo (\d+)", query).group(1)  # the caption names its image
        for card in re.findall(r'<div class="card (\w+)[^"]*"><img[^>]*alt="images/(\d+)\.png"', query):
            assert (card[0] == "hit") == (int(card[1]) == int(number))
            checked += 1
    assert checked >= 8 * 3


def test_several_models_get_a_comparison(small_captions, make_encoder, tmp_path):
    evaluations = [detailed(make_encoder(0.6, "weak"), small_captions), detailed(make_encoder(0.0, "strong"),
                                                                                 small_captions)]
    html = write_report(evaluations, tmp_path, gallery_size=2, map_method="pca", resamples=100).read_text()
    assert "<h2>Comparison</h2>" in html and "paired permutation test vs weak" in html
    assert html.count("Worst queries first") == 2 * len(small_captions.tasks)


def write_wav(path: Path, frequency: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = (np.sin(np.arange(800) * frequency) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1), file.setsampwidth(2), file.setframerate(8000)
        file.writeframes(samples.tobytes())


def test_audio_items_are_playable_in_the_gallery(tmp_path):
    for digit in range(3):
        for take in range(3):
            write_wav(tmp_path / "fsdd" / "recordings" / f"{digit}_ann_{take}.wav", 0.1 * (digit + 1))
    dataset = fsdd(tmp_path / "fsdd")
    rng = np.random.default_rng(0)
    vectors = {pool: {SHARED: rng.standard_normal((len(items), 4)).astype(np.float32)}
               for pool, items in dataset.pools.items()}
    evaluation = evaluation_from_vectors(dataset, "random", vectors, {t: SHARED for t in dataset.tasks})
    index = write_report(evaluation, tmp_path / "report", gallery_size=3, map_method="pca", resamples=50)
    html = index.read_text()
    assert html.count("<audio controls") >= 3
    copied = [f for f in linked_files(index) if f.suffix == ".wav"]
    assert copied and all(f.read_bytes()[:4] == b"RIFF" for f in copied)


def test_real_images_report_with_offline_explanations_renders(offline_encoder, data_dir, tmp_path):
    dataset = captions(data_dir / "flickr8k-500", 0, 8)
    index = write_report(detailed(offline_encoder, dataset), tmp_path / "report", encoders=offline_encoder,
                         gallery_size=3, top_k=3, heatmaps=False, map_method="pca", resamples=100)
    html = index.read_text()
    assert "classes (share of score)" in html and 'class="word"' in html
    assert all(f.is_file() for f in linked_files(index))
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (apt-get install chromium): no screenshot")
    screenshot = screenshot_of(index, tmp_path)
    pixels = np.asarray(Image.open(screenshot).convert("RGB"), dtype=np.float64)
    assert pixels.shape[:2] == (1400, 1280)
    assert pixels.std() > 20  # not a blank page
    assert len(np.unique(pixels.reshape(-1, 3)[::97], axis=0)) > 200  # photos and plots, not just text
    artifacts = Path(__file__).resolve().parents[2] / "benchmarks" / "out" / "screenshots"
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, artifacts / "test_report_flickr8k-500-0-8.png")


def screenshot_of(index: Path, tmp_path: Path) -> Path:
    target = tmp_path / "screenshot.png"
    subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--screenshot={target}",
                    "--window-size=1280,1400", index.as_uri()], check=True, capture_output=True, timeout=120)
    return target


def test_report_shows_its_stages_while_it_works(small_captions, make_encoder, tmp_path, capsys):
    """Issue 10 defect 11: after embedding, the statistics, plots and galleries take minutes; a bar names each."""
    write_report(detailed(make_encoder(0.5), small_captions), tmp_path / "report", gallery_size=2,
                 map_method="pca", resamples=50, progress=True)
    shown = capsys.readouterr().err
    stages = 1 + len(small_captions.tasks) * 2
    assert f"{stages}/{stages}" in shown and "written" in shown
    assert all(f"{task} gallery of" in shown for task in small_captions.tasks)
