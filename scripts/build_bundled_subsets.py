"""Build the real, class-balanced data subsets that ship inside ``qrobust_lite``.

Run from the repository root (it reads the checksum-verified copies in ``../shared/data``)::

    python scripts/build_bundled_subsets.py [--source ../shared/data]

For each dataset and split it keeps the first ``n`` images of every class in the official
order, so the subset is deterministic and reproducible. It writes one ``.npz`` per dataset
and split (plain uint8/int64 arrays, loadable with ``allow_pickle=False``) and records each
file's SHA-256 in ``qrobust_lite/bundled/checksums.json``, which the loader verifies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from qrobust_lite.data import read_idx

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "qrobust_lite" / "bundled"

# (dataset, split) -> images per class kept in the bundled subset
PER_CLASS = {
    ("mnist", "train"): 500,
    ("mnist", "test"): 100,
    ("fashion_mnist", "train"): 500,
    ("fashion_mnist", "test"): 100,
    ("cifar10", "train"): 150,
    ("cifar10", "test"): 50,
}


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` samples of each class, in the original order."""
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) < per_class:
            raise ValueError(f"class {c} has only {len(idx)} samples, need {per_class}")
        keep.append(idx[:per_class])
    return np.sort(np.concatenate(keep))


def load_source(source: Path, dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) or (N, 3, 32, 32) uint8 and labels (N,) from the shared copies."""
    if dataset in ("mnist", "fashion_mnist"):
        folder = source / ("MNIST" if dataset == "mnist" else "FashionMNIST") / "raw"
        prefix = "train" if split == "train" else "t10k"
        images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", "images")
        labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", "labels")
        return images, labels.astype(np.int64)
    name = "cifar10_train_first1000_per_batch.npz" if split == "train" else "cifar10_test_first1000.npz"
    with np.load(source / "cifar10_subset" / name, allow_pickle=False) as z:
        return z["data"].reshape(-1, 3, 32, 32), z["labels"].astype(np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    checksums = {}
    for (dataset, split), per_class in PER_CLASS.items():
        images, labels = load_source(args.source, dataset, split)
        keep = first_per_class(labels, per_class)
        path = OUT / f"{dataset}_{split}.npz"
        np.savez_compressed(path, images=images[keep], labels=labels[keep])
        checksums[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{path.name}: {len(keep)} images, {path.stat().st_size / 1e6:.2f} MB")
    (OUT / "checksums.json").write_text(json.dumps(checksums, indent=2, sort_keys=True) + "\n")
    total = sum((OUT / n).stat().st_size for n in checksums) / 1e6
    print(f"total {total:.2f} MB")


if __name__ == "__main__":
    main()
