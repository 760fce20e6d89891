"""Running mmret's stages on distributed engines: indexing on a Ray cluster (ray_pipeline.py)."""
from .ray_pipeline import RayIngest, RaySettings

__all__ = ["RayIngest", "RaySettings"]
