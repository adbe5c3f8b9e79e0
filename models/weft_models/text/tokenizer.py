"""The tokenizer that ships with the text model.

Python encodes with the very ``tokenizer.json`` it ships (``tokenizers``, the Rust library the
TypeScript side also runs through ``@huggingface/tokenizers``), with truncation and fixed padding to
``maxLength`` written into the file, so both sides produce the same ``input_ids``/``attention_mask``.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import Tensor

log = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"


def export_tokenizer(source: str, out_dir: str | os.PathLike[str], max_length: int) -> Path:
    """Write ``tokenizer.json`` (+ config files) for ``source`` (a local folder or hub id) to ``out_dir``."""
    from transformers import AutoTokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    auto = AutoTokenizer.from_pretrained(source, local_files_only=os.path.isdir(source))
    auto.model_max_length = max_length
    auto.save_pretrained(str(out))
    backend: Tokenizer = auto.backend_tokenizer
    configure(backend, max_length)
    backend.save(str(out / TOKENIZER_FILE))
    config_path = out / TOKENIZER_CONFIG_FILE
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    config["model_max_length"] = max_length
    if "max_length" in config:
        config["max_length"] = max_length
    for key in ("is_local", "local_files_only", "name_or_path"):
        config.pop(key, None)  # where it was built, not how to tokenize
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    log.info("tokenizer for %s written to %s (max length %d)", source, out, max_length)
    return out / TOKENIZER_FILE


def configure(tokenizer: Tokenizer, max_length: int) -> Tokenizer:
    pad_id = tokenizer.token_to_id("[PAD]")
    if pad_id is None:
        raise ValueError("tokenizer has no [PAD] token")
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(length=max_length, pad_id=pad_id, pad_token="[PAD]")
    return tokenizer


def load_tokenizer(path: str | os.PathLike[str]) -> Tokenizer:
    file = Path(path)
    if file.is_dir():
        file = file / TOKENIZER_FILE
    if not file.exists():
        raise FileNotFoundError(f"tokenizer not found: {file}")
    tokenizer = Tokenizer.from_file(str(file))
    if tokenizer.padding is None or tokenizer.truncation is None:
        raise ValueError(f"{file} must fix truncation and padding (written by export_tokenizer)")
    return tokenizer


def max_length_of(tokenizer: Tokenizer) -> int:
    assert tokenizer.padding is not None
    return int(tokenizer.padding["length"])


def encode(tokenizer: Tokenizer, texts: Sequence[str]) -> dict[str, Tensor]:
    """``input_ids`` and ``attention_mask``, int64 ``(N, maxLength)``."""
    encodings = tokenizer.encode_batch(list(texts))
    return {
        "input_ids": torch.tensor([e.ids for e in encodings], dtype=torch.int64),
        "attention_mask": torch.tensor([e.attention_mask for e in encodings], dtype=torch.int64),
    }
