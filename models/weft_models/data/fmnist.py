"""Fashion-MNIST (Zalando's real product photos, 28×28 grey) from the Debian package ``dataset-fashion-mnist``."""
from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "WEFT_FASHION_MNIST"
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


class DatasetMissingError(FileNotFoundError):
    """Fashion-MNIST is not installed where we look for it."""


@dataclass(frozen=True)
class FashionMnist:
    images: np.ndarray
    """(N, 28, 28) uint8, garment bright on black."""
    labels: np.ndarray
    """(N,) uint8, Fashion-MNIST class index (= index into tasks.CATEGORY.labels)."""


def dataset_dir(path: str | os.PathLike[str] | None = None) -> Path:
    return Path(path or os.environ.get(ENV_VAR) or DEFAULT_DIR)


def check_dataset(path: str | os.PathLike[str] | None = None) -> Path:
    """Fail fast, naming every missing file and how to install them."""
    root = dataset_dir(path)
    missing = [name for pair in _FILES.values() for name in pair if not (root / name).exists()]
    if missing:
        raise DatasetMissingError(
            f"Fashion-MNIST not found: {root} lacks {', '.join(missing)}. Install the Debian package "
            f"(apt-get update && apt-get install -y dataset-fashion-mnist) or point {ENV_VAR} at a folder with the idx files."
        )
    return root


def _read_idx(path: Path, magic: int) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    (found,) = struct.unpack(">I", data[:4])
    if found != magic:
        raise ValueError(f"{path} is not an idx file of the expected kind (magic {found:#x}, want {magic:#x})")
    dims = data[3] & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_split(split: str, path: str | os.PathLike[str] | None = None) -> FashionMnist:
    if split not in _FILES:
        raise ValueError(f"Fashion-MNIST split must be train or test, got {split!r}")
    root = check_dataset(path)
    images_file, labels_file = _FILES[split]
    images = _read_idx(root / images_file, 0x00000803)
    labels = _read_idx(root / labels_file, 0x00000801)
    if len(images) != len(labels):
        raise ValueError(f"Fashion-MNIST {split}: {len(images)} images but {len(labels)} labels")
    return FashionMnist(images, labels)
