"""mmret: multimodal retrieval. Text, images (and later audio and video) in one vector space, indexed and searched."""
from .api import Collection
from .composed import QueryPart
from .models import load_encoder

__all__ = ["Collection", "QueryPart", "load_encoder"]
__version__ = "0.1.0"
