"""Fixtures of the data tests: a tiny random CLIP saved to disk, so that a real `mmret index` starts in seconds."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    """A randomly initialised CLIP with 32-px images and a letter vocabulary, loadable as `--model DIR`."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz"
    words = [*letters, *(c + "</w>" for c in letters), "<|startoftext|>", "<|endoftext|>"]
    tokenizer = CLIPTokenizer(vocab={w: i for i, w in enumerate(words)}, merges=[], model_max_length=16)
    tower = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    specials = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                "pad_token_id": tokenizer.pad_token_id}
    config = CLIPConfig(text_config=dict(tower, vocab_size=len(tokenizer), max_position_embeddings=16, **specials),
                        vision_config=dict(tower, image_size=32, patch_size=8), projection_dim=8)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-clip")
    for part in (CLIPModel(config), tokenizer,
                 CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})):
        part.save_pretrained(path)
    return path
