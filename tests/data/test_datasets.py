import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmret.data.datasets import (
    IMAGE_TO_IMAGE,
    IMAGE_TO_TEXT,
    TEXT_TO_IMAGE,
    captions,
    folders,
    load_dataset,
)


def shared_dataset(data_dir: Path, name: str) -> Path:
    if not (data_dir / name).is_dir():
        pytest.skip(f"shared data set {name} not found under {data_dir}")
    return data_dir / name


def write_png(path: Path, colour=(200, 30, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)


def write_captions(root: Path, records: list, write_images: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if write_images:
        for record in records:
            write_png(root / record["image"])
    (root / "captions.json").write_text(json.dumps(records))
    return root


def three_records() -> list:
    return [{"image": "images/a.png", "captions": ["a red thing", "something red"]},
            {"image": "images/b.png", "captions": ["a blue thing"], "categories": ["cup"], "coco_id": 7},
            {"image": "images/c.png", "captions": ["green", "very green", "a green thing"]}]


def write_classes(root: Path, files_per_class: dict) -> Path:
    for label, count in files_per_class.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for n in range(count):
            write_png(root / label / f"image_{n:04d}.png")
    return root


def test_captions_reads_images_texts_and_relevance(tmp_path):
    dataset = captions(write_captions(tmp_path / "mini", three_records()))
    assert dataset.name == "mini"
    assert [i.id for i in dataset.images] == ["images/a.png", "images/b.png", "images/c.png"]
    assert all(Path(i.path).is_file() and i.modality == "image" for i in dataset.images)
    assert [t.text for t in dataset.texts] == ["a red thing", "something red", "a blue thing",
                                               "green", "very green", "a green thing"]
    expected = np.zeros((6, 3), bool)
    expected[[0, 1], 0] = expected[2, 1] = expected[[3, 4, 5], 2] = True
    np.testing.assert_array_equal(dataset.relevance(TEXT_TO_IMAGE), expected)
    np.testing.assert_array_equal(dataset.relevance(IMAGE_TO_TEXT), expected.T)
    assert dataset.tasks == (TEXT_TO_IMAGE, IMAGE_TO_TEXT)
    assert dataset.images[1].metadata == {"categories": ["cup"], "coco_id": 7}


def test_captions_accepts_the_json_file_itself(tmp_path):
    root = write_captions(tmp_path / "mini", three_records())
    assert len(captions(root / "captions.json").texts) == 6


def test_captions_slice_keeps_only_the_chosen_images_and_their_captions(tmp_path):
    dataset = captions(write_captions(tmp_path / "mini", three_records()), start=1, stop=3)
    assert dataset.name == "mini[1:3]"
    assert [i.id for i in dataset.images] == ["images/b.png", "images/c.png"]
    assert [t.metadata["image"] for t in dataset.texts] == ["images/b.png"] + ["images/c.png"] * 3
    assert dataset.text_image.sum(axis=1).tolist() == [1, 1, 1, 1]


def test_folders_labels_images_by_folder_and_queries_each_class_by_name(tmp_path):
    root = write_classes(tmp_path / "classes", {"dog": 3, "sea_lion": 2, "empty": 0})
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    write_png(root / ".hidden" / "x.png")
    write_png(root / "loose.png")
    dataset = folders(root)
    assert [i.metadata["label"] for i in dataset.images] == ["dog"] * 3 + ["sea_lion"] * 2
    assert [t.text for t in dataset.texts] == ["a photo of a dog", "a photo of a sea lion"]
    np.testing.assert_array_equal(dataset.relevance(TEXT_TO_IMAGE), [[1, 1, 1, 0, 0], [0, 0, 0, 1, 1]])
    same = dataset.relevance(IMAGE_TO_IMAGE)
    np.testing.assert_array_equal(same, same.T)
    assert same.sum() == 3 * 3 + 2 * 2  # self-pairs included; the runner excludes them
    assert dataset.tasks == (IMAGE_TO_IMAGE, TEXT_TO_IMAGE)


def test_folders_slice_applies_to_each_class_and_template_is_configurable(tmp_path):
    root = write_classes(tmp_path / "classes", {"cat": 4, "dog": 1})
    dataset = folders(root, start=1, template="{}!")
    assert [i.id for i in dataset.images] == ["cat/image_0001.png", "cat/image_0002.png", "cat/image_0003.png"]
    assert [t.text for t in dataset.texts] == ["cat!"]  # dog has no image left in the slice
    assert dataset.name == "classes[1:]"


def test_load_dataset_recognises_each_layout(tmp_path):
    assert load_dataset(write_captions(tmp_path / "caps", three_records())).tasks[0] == TEXT_TO_IMAGE
    assert load_dataset(write_classes(tmp_path / "flat", {"a": 1})).name == "flat"
    nested = load_dataset(write_classes(tmp_path / "nested" / "images", {"a": 1, "b": 2}).parent)
    assert nested.name == "nested" and len(nested.images) == 3


def test_unknown_task_is_refused(tmp_path):
    dataset = captions(write_captions(tmp_path / "mini", three_records()))
    with pytest.raises(ValueError, match="no task 'image->image'"):
        dataset.relevance(IMAGE_TO_IMAGE)


@pytest.mark.parametrize("content, message", [
    ("[{", "not valid JSON"),
    ('{"image": "a.png"}', "expected a JSON list"),
    ('["a.png"]', "record 0: expected an object"),
    ('[{"captions": ["x"]}]', "record 0: missing or invalid \"image\""),
    ('[{"image": "a.png", "captions": []}]', "non-empty list"),
    ('[{"image": "a.png", "captions": ["ok", 3]}]', "non-empty list"),
    ('[{"image": "a.png"}]', "non-empty list"),
    ('[{"image": "a.png", "captions": ["x"]}, {"image": "a.png", "captions": ["y"]}]',
     "record 1: image a.png is already listed in record 0"),
])
def test_malformed_captions_json_is_refused_naming_the_file(tmp_path, content, message):
    (tmp_path / "captions.json").write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        captions(tmp_path)
    assert str(tmp_path / "captions.json") in str(error.value)


def test_missing_image_files_are_refused_naming_the_first_and_the_count(tmp_path):
    root = write_captions(tmp_path / "mini", three_records(), write_images=False)
    write_png(root / "images" / "a.png")
    with pytest.raises(ValueError, match=r"2 image file\(s\) listed but missing, first .*images/b.png"):
        captions(root)


def test_missing_files_outside_the_slice_do_not_matter(tmp_path):
    root = write_captions(tmp_path / "mini", three_records(), write_images=False)
    write_png(root / "images" / "a.png")
    assert len(captions(root, stop=1).images) == 1


def test_other_bad_layouts_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no such captions file"):
        captions(tmp_path)
    with pytest.raises(ValueError, match=r"no records in the slice \[5:\]"):
        captions(write_captions(tmp_path / "mini", three_records()), start=5)
    with pytest.raises(ValueError, match="not a folder of class folders"):
        folders(tmp_path / "absent")
    with pytest.raises(ValueError, match="no images"):
        folders(write_classes(tmp_path / "none", {"a": 0}))


def test_shared_flickr8k_500(data_dir):
    dataset = load_dataset(shared_dataset(data_dir, "flickr8k-500"))
    assert (len(dataset.images), len(dataset.texts)) == (500, 2500)
    assert (dataset.text_image.sum(axis=0) == 5).all()
    held_out = captions(shared_dataset(data_dir, "flickr8k-500"), start=400, stop=500)
    assert (len(held_out.images), held_out.images[0].id) == (100, dataset.images[400].id)


def test_shared_coco_mini_keeps_categories(data_dir):
    dataset = load_dataset(shared_dataset(data_dir, "coco-mini"))
    assert (len(dataset.images), len(dataset.texts)) == (239, 1195)
    assert "person" in dataset.images[0].metadata["categories"]


def test_shared_caltech101(data_dir):
    dataset = load_dataset(shared_dataset(data_dir, "caltech101"))
    assert dataset.name == "caltech101"
    assert (len(dataset.images), len(dataset.texts)) == (2893, 101)
    assert "a photo of a Faces easy" in {t.text for t in dataset.texts}
    assert dataset.text_image.sum() == 2893  # every image is in exactly one class
