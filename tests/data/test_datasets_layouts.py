"""The layouts added beside captions and folders: COCO categories, label tables, ESC-50, FSDD, TREC qrels, and
the layout registry. Media files are written as placeholders: layouts list items, they never decode them."""
import json
from pathlib import Path

import numpy as np
import pytest

from mmret.data.datasets import (
    AUDIO_TO_AUDIO,
    IMAGE_TO_IMAGE,
    LAYOUTS,
    TEXT_TO_AUDIO,
    TEXT_TO_IMAGE,
    RetrievalDataset,
    coco,
    dataset_from_spec,
    detect_layout,
    esc50,
    fsdd,
    labels,
    load_dataset,
    qrels,
    register_layout,
)


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"placeholder")
    return path


def shared(data_dir: Path, name: str) -> Path:
    if not (data_dir / name).is_dir():
        pytest.skip(f"shared data set {name} not found under {data_dir}")
    return data_dir / name


# --- COCO categories --------------------------------------------------------------------------------------

def write_coco(root: Path) -> Path:
    records = [{"image": "a.jpg", "captions": ["a"], "categories": ["dog", "person"]},
               {"image": "b.jpg", "captions": ["b"], "categories": ["cat"]},
               {"image": "c.jpg", "captions": ["c"], "categories": None},
               {"image": "d.jpg", "captions": ["d"], "categories": ["person"]},
               {"image": "e.jpg", "captions": ["e"]}]
    for record in records:
        touch(root / record["image"])
    (root / "captions.json").write_text(json.dumps(records))
    return root


def test_coco_images_sharing_a_category_are_relevant_to_each_other(tmp_path):
    dataset = coco(write_coco(tmp_path / "c"))
    assert dataset.tasks == ("text->image", "image->text", IMAGE_TO_IMAGE)
    expected = np.zeros((5, 5), bool)
    expected[[0, 0, 3, 3], [0, 3, 0, 3]] = True  # share "person"
    expected[1, 1] = True
    np.testing.assert_array_equal(dataset.image_image, expected)
    assert dataset.task(IMAGE_TO_IMAGE).excludes_self


def test_coco_refuses_categories_that_are_not_a_list_of_strings(tmp_path):
    root = write_coco(tmp_path / "c")
    records = json.loads((root / "captions.json").read_text())
    records[1]["categories"] = "cat"
    (root / "captions.json").write_text(json.dumps(records))
    with pytest.raises(ValueError, match="b.jpg.*must be a list of strings"):
        coco(root)


def test_shared_coco_mini_image_to_image(data_dir):
    dataset = load_dataset(shared(data_dir, "coco-mini"))
    assert dataset.tasks == ("text->image", "image->text", IMAGE_TO_IMAGE)
    same = dataset.image_image
    with_categories = [bool(image.metadata.get("categories")) for image in dataset.images]
    assert sum(with_categories) == 159
    np.testing.assert_array_equal(same.diagonal(), with_categories)
    np.testing.assert_array_equal(same, same.T)
    people = [i for i, image in enumerate(dataset.images) if "person" in (image.metadata.get("categories") or [])]
    assert same[np.ix_(people, people)].all()


# --- label tables -----------------------------------------------------------------------------------------

def test_labels_csv_of_images_with_multi_labels(tmp_path):
    for name in ("a.png", "b.png", "c.png", "d.png"):
        touch(tmp_path / "img" / name)
    (tmp_path / "items.csv").write_text("path,label,source\nimg/a.png,cat|dog,x\nimg/b.png,dog,y\n"
                                        "img/c.png,,z\nimg/d.png,bird,w\n")
    dataset = labels(tmp_path / "items.csv")
    assert dataset.name == "items" and dataset.tasks == (IMAGE_TO_IMAGE, TEXT_TO_IMAGE)
    assert dataset.images[0].metadata == {"label": "cat|dog", "source": "x"}
    np.testing.assert_array_equal(dataset.image_image, [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]])
    assert [t.text for t in dataset.texts] == ["a photo of a bird", "a photo of a cat", "a photo of a dog"]
    np.testing.assert_array_equal(dataset.text_image, [[0, 0, 0, 1], [1, 0, 0, 0], [1, 1, 0, 0]])


def test_labels_jsonl_of_texts_with_list_labels_has_only_text_to_text(tmp_path):
    rows = [{"id": "t1", "text": "goal!", "label": ["sport"]}, {"id": "t2", "text": "rates up", "label": ["money"]},
            {"id": "t3", "text": "club sold", "label": ["sport", "money"]}]
    (tmp_path / "news.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    dataset = labels(tmp_path / "news.jsonl", start=1)
    assert dataset.tasks == ("text->text",) and [t.id for t in dataset.texts] == ["t2", "t3"]
    np.testing.assert_array_equal(dataset.relevance("text->text"), [[1, 1], [1, 1]])


def test_labels_audio_table_uses_a_sound_template_and_a_custom_label_column(tmp_path):
    touch(tmp_path / "x.wav")
    (tmp_path / "clips.tsv").write_text("path\tkind\nx.wav\tsea_waves\n")
    dataset = labels(tmp_path / "clips.tsv", label_column="kind")
    assert dataset.tasks == (AUDIO_TO_AUDIO, TEXT_TO_AUDIO)
    assert dataset.pools["text"][0].text == "the sound of sea waves"


@pytest.mark.parametrize("content, message", [
    ("path,label\na.png,x\nb.wav,y\n", "mix modalities"),
    ("path,kind\na.png,x\n", "no 'label' column"),
    ("path,label\na.txt,x\n", "not a supported media file"),
    ("path,label\n,x\n", "row 1: needs a \"path\" or a \"text\""),
    ("path,label\nmissing.png,x\n", r"1 image file\(s\) listed but missing"),
])
def test_bad_label_tables_are_refused(tmp_path, content, message):
    touch(tmp_path / "a.png")
    touch(tmp_path / "b.wav")
    (tmp_path / "t.csv").write_text(content)
    with pytest.raises(ValueError, match=message):
        labels(tmp_path / "t.csv")


# --- ESC-50 -----------------------------------------------------------------------------------------------

def write_esc50(root: Path, categories=("dog", "rain", "sea_waves"), folds=(1, 2)) -> Path:
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for fold in folds:
        for target, category in enumerate(categories):
            name = f"{fold}-{target}-A-{target}.flac"
            touch(root / "audio" / name)
            lines.append(f"{name},{fold},{target},{category},False,{target},A")
    (root / "esc50.csv").write_text("\n".join(lines) + "\n")
    return root


def test_esc50_clips_are_relevant_within_their_category(tmp_path):
    dataset = esc50(write_esc50(tmp_path / "esc"))
    assert dataset.tasks == (AUDIO_TO_AUDIO, TEXT_TO_AUDIO)
    clips = dataset.pools["audio"]
    assert len(clips) == 6 and all(Path(c.path).is_file() and c.modality == "audio" for c in clips)
    assert clips[0].metadata["category"] == "dog" and clips[0].metadata["fold"] == "1"
    same = dataset.relevance(AUDIO_TO_AUDIO)
    assert same.sum() == 3 * 2 * 2 and same[0, 3] and not same[0, 1]
    assert [t.text for t in dataset.pools["text"]] == ["the sound of dog", "the sound of rain",
                                                      "the sound of sea waves"]


def test_esc50_folds_filter_and_spec_options(tmp_path):
    root = write_esc50(tmp_path / "esc")
    assert len(esc50(root, folds=[2]).pools["audio"]) == 3
    assert len(dataset_from_spec(f"esc50:{root}", options={"folds": "2"}).pools["audio"]) == 3
    assert len(dataset_from_spec(str(root), options={"folds": "[1, 2]"}).pools["audio"]) == 6


def test_esc50_missing_clip_is_refused(tmp_path):
    root = write_esc50(tmp_path / "esc")
    (root / "audio" / "1-0-A-0.flac").unlink()
    with pytest.raises(ValueError, match=r"1 audio file\(s\) listed but missing, first .*1-0-A-0.flac"):
        esc50(root)


def test_shared_esc50(data_dir):
    dataset = load_dataset(shared(data_dir, "esc50"))
    clips = dataset.pools["audio"]
    assert (len(clips), len(dataset.pools["text"])) == (414, 50)
    fold4 = esc50(shared(data_dir, "esc50"), folds=[4])
    assert len(fold4.pools["audio"]) == 400
    assert (fold4.relevance(TEXT_TO_AUDIO).sum(axis=1) == 8).all()


# --- FSDD -------------------------------------------------------------------------------------------------

def write_fsdd(root: Path, speakers=("ann", "bob"), takes=3) -> Path:
    for digit in range(10):
        for speaker in speakers:
            for take in range(takes):
                touch(root / "recordings" / f"{digit}_{speaker}_{take}.wav")
    return root


def test_fsdd_labels_by_digit_and_queries_each_digit_by_its_word(tmp_path):
    dataset = fsdd(write_fsdd(tmp_path / "fsdd"))
    clips = dataset.pools["audio"]
    assert len(clips) == 60 and clips[0].metadata == {"digit": 0, "speaker": "ann", "take": 0}
    assert [t.text for t in dataset.pools["text"]] == sorted(["zero", "one", "two", "three", "four", "five", "six",
                                                             "seven", "eight", "nine"])
    assert (dataset.relevance(AUDIO_TO_AUDIO).sum(axis=1) == 6).all()  # 2 speakers x 3 takes


def test_fsdd_take_slice_and_speaker_labels(tmp_path):
    root = write_fsdd(tmp_path / "fsdd")
    test_split = fsdd(root, stop=2)
    assert {c.metadata["take"] for c in test_split.pools["audio"]} == {0, 1}
    assert test_split.name == "fsdd[0:2]"
    by_speaker = fsdd(root, label="speaker")
    assert by_speaker.tasks == (AUDIO_TO_AUDIO,)
    assert (by_speaker.relevance(AUDIO_TO_AUDIO).sum(axis=1) == 30).all()


def test_fsdd_refuses_a_misnamed_recording_and_an_unknown_label(tmp_path):
    root = write_fsdd(tmp_path / "fsdd")
    with pytest.raises(ValueError, match="label must be one of"):
        fsdd(root, label="accent")
    touch(root / "recordings" / "three.wav")
    with pytest.raises(ValueError, match="three.wav: not an FSDD recording name"):
        fsdd(root)


def test_shared_fsdd(data_dir):
    root = shared(data_dir, "fsdd")
    assert len(load_dataset(root).pools["audio"]) == 3000
    test_split = fsdd(root, stop=5)
    assert len(test_split.pools["audio"]) == 300
    assert (test_split.relevance(TEXT_TO_AUDIO).sum(axis=1) == 30).all()
    assert len(fsdd(root, label="speaker", stop=5).pools["audio"]) == 300


# --- TREC qrels -------------------------------------------------------------------------------------------

def write_qrels(root: Path, judgements: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "queries.tsv").write_text("q1\tred cars\nq2\tblue sea\nq3\tnothing judged\n")
    for name in ("car.png", "sea.png", "sky.png"):
        touch(root / "media" / name)
    (root / "documents.jsonl").write_text("\n".join(json.dumps({"id": d, "path": f"media/{d}.png"})
                                                    for d in ("car", "sea", "sky")))
    (root / "qrels.txt").write_text(judgements)
    return root


def test_qrels_relevance_from_trec_judgements(tmp_path):
    root = write_qrels(tmp_path / "mine", "q1 0 car 1\nq2 0 sea 2\nq2 0 sky 1\nq2 0 car 0\nq9 0 sky 1\n")
    dataset = load_dataset(root)
    assert dataset.tasks == (TEXT_TO_IMAGE,)
    task = dataset.task(TEXT_TO_IMAGE)
    assert (task.queries, task.candidates, task.excludes_self) == ("query", "document", False)
    np.testing.assert_array_equal(task.relevance, [[1, 0, 0], [0, 1, 1], [0, 0, 0]])
    strict = qrels(root, min_relevance=2)
    np.testing.assert_array_equal(strict.relevance(TEXT_TO_IMAGE), [[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    assert [q.id for q in qrels(root, start=1).pools["query"]] == ["q2", "q3"]


def test_qrels_text_to_text_with_explicit_listings(tmp_path):
    (tmp_path / "topics.tsv").write_text("1\tcheap flights\n")
    (tmp_path / "corpus.csv").write_text("_id,text\nd1,fly for less\nd2,train times\n")
    (tmp_path / "judged").write_text("1 Q0 d1 1\n")
    dataset = qrels(tmp_path / "judged", queries=tmp_path / "topics.tsv", documents=tmp_path / "corpus.csv")
    assert dataset.tasks == ("text->text",)
    np.testing.assert_array_equal(dataset.relevance("text->text"), [[1, 0]])


@pytest.mark.parametrize("judgements, message", [
    ("q1 0 car\n", r"qrels.txt:1: expected 'query_id iteration doc_id relevance'"),
    ("q1 0 car 1\nq1 0 boat 1\n", "1 judged document.*missing from the documents listing, first boat"),
])
def test_bad_qrels_are_refused_naming_the_file(tmp_path, judgements, message):
    with pytest.raises(ValueError, match=message):
        qrels(write_qrels(tmp_path / "mine", judgements))


def test_qrels_listing_with_repeated_ids_is_refused(tmp_path):
    root = write_qrels(tmp_path / "mine", "q1 0 car 1\n")
    (root / "queries.tsv").write_text("q1\ta\nq1\tb\n")
    with pytest.raises(ValueError, match="id q1 is listed more than once"):
        qrels(root)


# --- registry ---------------------------------------------------------------------------------------------

def test_detect_layout_recognises_every_layout(tmp_path):
    assert detect_layout(write_coco(tmp_path / "c"))[0] == "coco"
    assert detect_layout(write_esc50(tmp_path / "e"))[0] == "esc50"
    assert detect_layout(write_esc50(tmp_path / "e") / "esc50.csv")[0] == "esc50"
    assert detect_layout(write_fsdd(tmp_path / "f"))[0] == "fsdd"
    assert detect_layout(write_qrels(tmp_path / "q", "q1 0 car 1\n"))[0] == "qrels"
    (tmp_path / "t.jsonl").write_text('{"text": "x", "label": "y"}\n')
    assert detect_layout(tmp_path / "t.jsonl")[0] == "labels"
    with pytest.raises(ValueError, match="cannot tell its layout"):
        detect_layout(touch(tmp_path / "notes.md"))


def test_registered_layouts_load_by_name(tmp_path):
    def single(path, start=0, stop=None, name=None):
        return labels(path, start, stop, name="single")

    register_layout("single-test", single)
    try:
        (tmp_path / "t.jsonl").write_text('{"text": "x", "label": "y"}\n')
        assert isinstance(dataset_from_spec(f"single-test:{tmp_path / 't.jsonl'}"), RetrievalDataset)
        with pytest.raises(ValueError, match="already registered"):
            register_layout("single-test", single)
    finally:
        del LAYOUTS["single-test"]
    with pytest.raises(ValueError, match="unknown layout 'nope'"):
        dataset_from_spec("nope:/absent")


def test_an_unknown_layout_option_names_the_layout_and_its_options(data_dir):
    from mmret.data.layouts import dataset_from_spec

    with pytest.raises(ValueError, match="layout 'fsdd' has no option 'takes'; its options: name, label, template"):
        dataset_from_spec(f"fsdd:{data_dir / 'fsdd'}", options={"takes": "0-4"})
