"""mmret: multimodal retrieval."""
