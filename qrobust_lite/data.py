"""Real image data for every chapter, offline by default (book: *Where the data comes from*).

One entry point, :func:`load`, serves MNIST, Fashion-MNIST, CIFAR-10 and CINIC-10. It looks
for the official files, in torchvision's folder layout, in this order:

1. the ``data_root`` argument, when given (an error if the files are not there);
2. the folder named by the ``QROBUST_DATA`` environment variable;
3. the user's cache directory (``qrobust-lite doctor`` prints it);
4. with ``download=True`` only: the official files are downloaded into the first of these
   that is set (the cache directory by default) and checked against their published MD5;
5. otherwise the small real subsets bundled inside the package (class-balanced, built by
   ``scripts/build_bundled_subsets.py``, checked against their SHA-256 at load).

For CIFAR-10, a folder without the official batches may hold ``cifar10_subset/``, a derived
subset (the first 1,000 images of each official batch, byte for byte, checked against its own
MD5); it is read in their place and every notice names it a "derived subset".

Nothing here imports torchvision, and nothing is unpickled except official CIFAR-10 batches,
read with an unpickler that only accepts plain arrays, lists and strings.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import pickletools
import tarfile
import urllib.request
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from platformdirs import user_cache_dir

from .validation import (
    COUNT,
    SEED,
    Bool,
    Either,
    FilePath,
    Folder,
    Instance,
    Optional,
    Options,
    Sequence_,
    validate_params,
)

DATASETS = ("mnist", "fashion_mnist", "cifar10", "cinic10")
SPLITS = ("train", "test")
ENV_VAR = "QROBUST_DATA"
ROOT = Optional(Folder())

CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "cifar10": (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ),
}
CLASS_NAMES["cinic10"] = CLASS_NAMES["cifar10"]

# Official files in torchvision's layout, with the MD5 their publishers give.
_IDX_FOLDER = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
_IDX_FILES = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
_URLS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
}
_CIFAR_TAR_MD5 = "c58f30108f718f92721af3b95e74349a"
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
# A derived CIFAR-10 subset (not official files): exact byte slices of the official batches,
# the first 1,000 images of each training batch and of the test batch, as NumPy arrays in the
# batches' layout. Read only where the official batches are absent, checked against these MD5s
# (the subset's own; no publisher gives one), and always named "a derived subset".
_CIFAR_SUBSET_FOLDER = "cifar10_subset"
_CIFAR_SUBSET_FILES = {
    "train": ("cifar10_train_first1000_per_batch.npz", "0a6bab271ea819ec275f5b7c7bf189db"),
    "test": ("cifar10_test_first1000.npz", "4a1915c7c3952a62c946a5db188bb2e8"),
}
_CINIC_FOLDERS = ("CINIC-10", "cinic-10", "cinic10")
_CINIC_SPLIT = {"train": "train", "test": "test"}


@dataclass(frozen=True)
class Dataset:
    """Images, labels and class names returned by :func:`load`.

    ``images`` is float32 in [0, 1] with shape (N, C, H, W): (N, 1, 28, 28) for MNIST and
    Fashion-MNIST, (N, 3, 32, 32) for CIFAR-10 and CINIC-10. ``labels`` is int64 (N,) in
    0..len(class_names)-1, renumbered in the order of the requested ``classes``.
    ``source`` says where the data came from.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def cache_dir() -> Path:
    """The per-user folder searched third (and used for downloads by default)."""
    return Path(user_cache_dir("qrobust-lite")) / "data"


# What an official file may hold, checked before anything is allocated (a CIFAR-10 batch file
# is 31 MB and its pickle takes about 30,000 opcodes).
#: The IDX files' kinds, as (dimensions, the shape after N).
IDX_KINDS = {"images": (3, (28, 28)), "labels": (1, ())}
#: The most items an IDX file may hold (MNIST's and Fashion-MNIST's training files hold 60,000).
MAX_IDX_ITEMS = 60_000
#: The largest CIFAR-10 batch file read, in bytes.
MAX_CIFAR_BATCH_BYTES = 40 * 2**20
#: The most pickle opcodes a CIFAR-10 batch may take (shared references cannot expand past it).
MAX_CIFAR_PICKLE_OPS = 100_000
_REFETCH = "delete it and copy or download the official file again"


@validate_params(path=FilePath(), kind=Options(*IDX_KINDS))
def read_idx(path: Path, kind: str) -> np.ndarray:
    """Read an official MNIST-format IDX file, gzip'd or not, into a uint8 array.

    ``kind`` is ``"images"`` (returns (N, 28, 28)) or ``"labels"`` (returns (N,), values 0-9).
    The 4-byte magic and the header are read first and checked against ``kind``, N is at most
    :data:`MAX_IDX_ITEMS`, and only then are exactly the N items read (so a file that expands
    to more than its header says is refused without being expanded). Every error names the file.
    """
    ndim, tail = IDX_KINDS[kind]
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[:3] != b"\x00\x00\x08":
                raise ValueError(f"{path} is not an unsigned-byte IDX file; {_REFETCH}")
            if head[3] != ndim:
                raise ValueError(
                    f"{path} holds a {head[3]}-dimensional array; expected {ndim} dimensions "
                    f"({'images (N, 28, 28)' if kind == 'images' else 'labels (N,)'}); "
                    f"{_REFETCH}"
                )
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise ValueError(f"{path} ends inside its header; {_REFETCH}")
            shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
            if shape[1:] != tail or not 0 < shape[0] <= MAX_IDX_ITEMS:
                raise ValueError(
                    f"{path}: its header says {kind} of shape {shape}; an official file holds "
                    f"1 to {MAX_IDX_ITEMS:,} {kind}" + (" of 28x28 pixels" if tail else "") + f"; {_REFETCH}"
                )
            size = int(np.prod(shape))
            raw = f.read(size)
            extra = f.read(1)
    except (gzip.BadGzipFile, EOFError, OSError) as err:
        raise ValueError(
            f"{path} cannot be read ({type(err).__name__}: {err}): it is truncated or not "
            f"what its name says; {_REFETCH}"
        ) from err
    if len(raw) != size or extra:
        raise ValueError(
            f"{path} holds {'more' if extra else len(raw)} values where its header says {shape} ({size:,}); {_REFETCH}"
        )
    data = np.frombuffer(raw, dtype=np.uint8).reshape(shape)
    if kind == "labels" and data.max() > 9:
        raise ValueError(f"{path} holds label {int(data.max())}; official labels are 0-9; {_REFETCH}")
    return data


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10's batches and refuses every class but NumPy's array rebuilders."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")
        return super().find_class(module, name)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One official CIFAR-10 batch: images (N, 3, 32, 32) uint8 and labels (N,) int64 in 0-9.

    Bounded before unpickling (file size, opcode count: shared references cannot make a small
    file expand), unpickled by :class:`_ArraysOnlyUnpickler`, then checked as the official
    layout: ``data`` a uint8 array of N rows of 3072 values, ``labels`` N integers 0-9.
    """

    def bad(what: str) -> ValueError:
        return ValueError(f"{path} is not an official CIFAR-10 batch: {what}; {_REFETCH}")

    if path.stat().st_size > MAX_CIFAR_BATCH_BYTES:
        raise bad(f"it is {path.stat().st_size:,} bytes (an official batch is about 31 MB)")
    raw = path.read_bytes()
    try:
        n_ops = sum(1 for _ in pickletools.genops(raw))
        if n_ops > MAX_CIFAR_PICKLE_OPS:
            raise bad(f"its pickle takes {n_ops:,} steps (at most {MAX_CIFAR_PICKLE_OPS:,})")
        batch = _ArraysOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except (pickle.UnpicklingError, ValueError, EOFError, TypeError, AttributeError, IndexError, KeyError) as err:
        if str(path) in str(err):
            raise
        raise bad(f"{type(err).__name__}: {err}") from err
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise bad("it must be a dict with keys 'data' and 'labels'")
    data, labels = batch["data"], batch["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shown = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise bad(f"'data' is {shown}; official batches hold a uint8 array of N rows of 3072 values 0-255")
    if (
        not isinstance(labels, list)
        or len(labels) != len(data)
        or not all(type(v) is int and 0 <= v <= 9 for v in labels)
    ):
        raise bad(
            f"it holds {data.shape} image data and "
            f"{len(labels) if isinstance(labels, list) else type(labels).__name__} labels; "
            "official batches hold N rows of 3072 values and a list of N labels 0-9"
        )
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- where each dataset's official files live under a root -----------------------------


def _idx_paths(root: Path, name: str, split: str) -> tuple[Path, Path] | None:
    folder = root / _IDX_FOLDER[name] / "raw"
    prefix = "train" if split == "train" else "t10k"
    found = []
    for kind in ("images-idx3", "labels-idx1"):
        stem = folder / f"{prefix}-{kind}-ubyte"
        path = next((p for p in (stem, stem.with_name(stem.name + ".gz")) if p.is_file()), None)
        if path is None:
            return None
        found.append(path)
    return found[0], found[1]


def _cifar_paths(root: Path, split: str) -> list[Path] | None:
    paths = [root / _CIFAR_FOLDER / b for b in _CIFAR_BATCHES[split]]
    return paths if all(p.is_file() for p in paths) else None


def _cifar_subset_path(root: Path, split: str) -> Path | None:
    path = root / _CIFAR_SUBSET_FOLDER / _CIFAR_SUBSET_FILES[split][0]
    return path if path.is_file() else None


def _read_cifar_subset(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The derived subset's images (N, 3, 32, 32) uint8 and labels, after its MD5 check."""
    if _md5(path) != _CIFAR_SUBSET_FILES[split][1]:
        raise ValueError(
            f"{path} does not match the derived CIFAR-10 subset's MD5 "
            f"{_CIFAR_SUBSET_FILES[split][1]}; it is damaged or another file: copy it again"
        )
    with np.load(path, allow_pickle=False) as z:
        data, labels = z["data"], z["labels"].astype(np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise ValueError(
            f"{path} holds {data.dtype} {data.shape} image data and {len(labels)} labels; the "
            "subset has N uint8 rows of 3072 values and N labels"
        )
    return data.reshape(-1, 3, 32, 32), labels


def _cinic_folder(root: Path, split: str) -> Path | None:
    for name in _CINIC_FOLDERS:
        folder = root / name / _CINIC_SPLIT[split]
        if folder.is_dir():
            return folder
    return None


def _available(root: Path, name: str, split: str) -> bool:
    if name in _IDX_FOLDER:
        return _idx_paths(root, name, split) is not None
    if name == "cifar10":
        return _cifar_paths(root, split) is not None or _cifar_subset_path(root, split) is not None
    return _cinic_folder(root, split) is not None


def _expected_files(name: str) -> str:
    if name in _IDX_FOLDER:
        return f"{_IDX_FOLDER[name]}/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte[.gz]"
    if name == "cifar10":
        return (
            f"{_CIFAR_FOLDER}/{{data_batch_1..5,test_batch}}, or the derived subset "
            f"{_CIFAR_SUBSET_FOLDER}/{{{','.join(f for f, _ in _CIFAR_SUBSET_FILES.values())}}}"
        )
    return "CINIC-10/{train,valid,test}/<class>/*.png"


_WARNED: set[str] = set()  # $QROBUST_DATA values already warned about (say it once)


@validate_params(data_root=ROOT)
def candidate_roots(data_root: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The folders searched, in order, as (label, path) pairs."""
    roots = []
    if data_root is not None:
        roots.append(("data_root argument", Path(data_root)))
    if os.environ.get(ENV_VAR):
        folder = Path(os.environ[ENV_VAR])
        if not folder.is_dir() and str(folder) not in _WARNED:
            _WARNED.add(str(folder))
            warnings.warn(f"${ENV_VAR} is {str(folder)!r}, which is not a folder; it is skipped", stacklevel=3)
        roots.append((f"${ENV_VAR}", folder))
    roots.append(("cache directory", cache_dir()))
    return roots


@validate_params(name=Options(*DATASETS), split=Options(*SPLITS), data_root=ROOT)
def available_sources(name: str, split: str = "train", data_root: str | os.PathLike | None = None) -> list[str]:
    """Which sources could serve ``name``/``split`` now, best first (used by the doctor)."""
    found = [
        f"{label} ({path}" + (", a derived subset)" if name == "cifar10" and _cifar_paths(path, split) is None else ")")
        for label, path in candidate_roots(data_root)
        if _available(path, name, split)
    ]
    if name in _BUNDLED_PER_CLASS:
        found.append("bundled subset")
    return found


# --- downloads (only when asked) -------------------------------------------------------


def _fetch(url: str, dest: Path, md5: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        if _md5(dest) == md5:
            return
        raise FileExistsError(
            f"{dest} exists but is not the official file (MD5 differs); move it away to download a fresh copy"
        )
    tmp = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
        out.write(response.read())
    if _md5(tmp) != md5:
        tmp.unlink()
        raise OSError(f"download of {url} failed its MD5 check; nothing was kept")
    tmp.replace(dest)


@validate_params(name=Options("mnist", "fashion_mnist", "cifar10"), data_root=Optional(FilePath()))
def download_dataset(name: str, data_root: str | os.PathLike | None = None) -> Path:
    """Download the official ``name`` files into ``data_root`` (default: the first source folder).

    Files already present with the right MD5 are kept; nothing else is overwritten.
    Returns the folder the files are in. CINIC-10 (687 MB) is not downloaded by the package.
    """
    target = Path(data_root) if data_root is not None else candidate_roots()[0][1]
    if name in _IDX_FILES:
        for fname, md5 in _IDX_FILES[name].items():
            _fetch(_URLS[name] + fname, target / _IDX_FOLDER[name] / "raw" / fname, md5)
        return target
    archive = target / "cifar-10-python.tar.gz"
    _fetch(_URLS["cifar10"], archive, _CIFAR_TAR_MD5)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(target, filter="data")
    return target


# --- the bundled subsets ---------------------------------------------------------------

_BUNDLED_PER_CLASS = {  # images per class in the bundled subsets (see the build script)
    "mnist": {"train": 500, "test": 100},
    "fashion_mnist": {"train": 500, "test": 100},
    "cifar10": {"train": 150, "test": 50},
}


def _load_bundled(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    folder = resources.files("qrobust_lite") / "bundled"
    fname = f"{name}_{split}.npz"
    checksums = json.loads((folder / "checksums.json").read_text())
    if fname not in checksums:
        raise OSError(f"bundled file {fname} has no checksum in checksums.json; reinstall qrobust-lite")
    expected = checksums[fname]
    raw = (folder / fname).read_bytes()
    if _sha256(raw) != expected:
        raise OSError(f"bundled file {fname} is corrupt (SHA-256 mismatch); reinstall qrobust-lite")
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        return z["images"], z["labels"].astype(np.int64)


# --- reading one source ----------------------------------------------------------------


def _read_official(
    root: Path, name: str, split: str, classes: list[int], per_class: list[int] | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    # only sources that _available found are read, so the paths below exist
    if name in _IDX_FOLDER:
        paths = _idx_paths(root, name, split)
        assert paths is not None
        img_path, lab_path = paths
        images, labels = read_idx(img_path, "images"), read_idx(lab_path, "labels").astype(np.int64)
        if len(images) != len(labels):
            raise ValueError(
                f"{img_path} holds {len(images)} images but {lab_path} {len(labels)} labels; "
                "the two files must come from the same official release"
            )
        return images, labels
    if name == "cifar10":
        batches = _cifar_paths(root, split)
        if batches is None:
            subset = _cifar_subset_path(root, split)
            assert subset is not None
            return _read_cifar_subset(subset, split)
        parts = [_read_cifar_batch(p) for p in batches]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    folder = _cinic_folder(root, split)
    assert folder is not None
    return _read_cinic(folder, classes, per_class, rng)


def _wanted(per_class: list[int] | None, k: int) -> list[int | None]:
    """Images wanted of each of k classes; None: all of them."""
    return list(per_class) if per_class is not None else [None] * k


def _read_cinic(
    folder: Path, classes: list[int], per_class: list[int] | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Decode only the PNGs that will be kept (CINIC-10 has 90,000 per split)."""
    from PIL import Image

    images, labels = [], []
    for c, want in zip(classes, _wanted(per_class, len(classes))):
        name = CLASS_NAMES["cinic10"][c]
        files = sorted((folder / name).glob("*.png"))
        if want is not None:
            if want > len(files):
                raise ValueError(f"n_samples asks for {want} images of class {name!r} but {folder} has {len(files)}")
            files = [files[i] for i in np.sort(rng.choice(len(files), size=want, replace=False))]
        for f in files:
            try:
                with Image.open(f) as im:
                    if im.size != (32, 32):
                        raise ValueError(
                            f"{f} is {im.size[0]}x{im.size[1]} pixels; CINIC-10 images are "
                            "32x32; replace it with the file from the official archive"
                        )
                    images.append(np.asarray(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1))
            except (OSError, Image.DecompressionBombError) as err:
                raise ValueError(
                    f"{f} cannot be read as a PNG ({type(err).__name__}); replace it with "
                    "the file from the official archive"
                ) from err
        labels += [c] * len(files)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


# --- the entry point -------------------------------------------------------------------


def _class_indices(name: str, classes: Sequence[int | str] | None) -> list[int]:
    names = CLASS_NAMES[name]
    if classes is None:
        return list(range(len(names)))
    out = []
    for c in classes:
        if isinstance(c, str) and c in names:
            out.append(names.index(c))
        elif isinstance(c, int) and c < len(names):
            out.append(c)
        else:
            raise ValueError(
                f"classes: {c!r} is not a class of {name}; allowed: 0..{len(names) - 1} or one of {list(names)}"
            )
    if len(set(out)) != len(out):
        raise ValueError(f"classes must not repeat a class, got {list(classes)}")
    return out


def _split_counts(n_samples: int | None, k: int) -> list[int] | None:
    """Class-balanced counts: n // k each, the remainder to the first classes."""
    if n_samples is None:
        return None
    if n_samples < k:
        raise ValueError(f"n_samples must be an integer >= the number of classes ({k}) or None, got {n_samples!r}")
    return [n_samples // k + (i < n_samples % k) for i in range(k)]


def _select(
    labels: np.ndarray, classes: list[int], per_class: list[int] | None, rng: np.random.Generator, source: str
) -> np.ndarray:
    selection = np.flatnonzero(np.isin(labels, classes))
    if per_class is not None and sum(per_class) == len(selection):
        return selection  # every image asked for: kept however the classes fall
    keep = []
    for c, want in zip(classes, _wanted(per_class, len(classes))):
        idx = np.flatnonzero(labels == c)
        if want is not None:
            if want > len(idx):
                raise ValueError(
                    f"n_samples asks for {want} images of class {c} but the {source} holds "
                    f"{len(idx)}; ask for fewer, or pass data_root= with the full dataset"
                )
            idx = np.sort(rng.choice(idx, size=want, replace=False))
        keep.append(idx)
    return np.sort(np.concatenate(keep))


@validate_params(
    name=Options(*DATASETS),
    split=Options(*SPLITS),
    n_samples=Optional(COUNT),
    classes=Optional(Sequence_(Either(SEED, Instance(str, "a class name")))),
    seed=SEED,
    data_root=ROOT,
    download=Bool(),
    verbose=Bool(),
)
def load(
    name: str,
    split: str = "train",
    n_samples: int | None = None,
    classes: Sequence[int | str] | None = None,
    seed: int = 0,
    data_root: str | os.PathLike | None = None,
    download: bool = False,
    verbose: bool = True,
) -> Dataset:
    """Load a class-balanced sample of a real image dataset as tensors.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"`` or ``"cinic10"``.
        split: ``"train"`` or ``"test"``.
        n_samples: total number of images, spread evenly over the classes; ``None``, or exactly
            the number the selected classes hold, for all of them (then as the classes fall: the
            derived CIFAR-10 subset's 5,000 training images are not balanced).
        classes: class indices or names to keep (labels are renumbered in this order).
        seed: which images are drawn when ``n_samples`` is set.
        data_root: a folder holding the official files in torchvision's layout.
        download: fetch the official files when no local copy exists.
        verbose: print a one-line notice naming the source.

    Returns:
        A :class:`Dataset` with images (N, C, H, W) float32 in [0, 1].

    Example:
        >>> ds = load("mnist", "train", n_samples=20, classes=[1, 9], verbose=False)
        >>> ds.images.shape, ds.class_names
        (torch.Size([20, 1, 28, 28]), ('1', '9'))
    """
    cls = _class_indices(name, classes)
    per_class = _split_counts(n_samples, len(cls))

    if data_root is not None:
        source_path = Path(data_root) if _available(Path(data_root), name, split) else None
    else:
        source_path = next((p for _, p in candidate_roots() if _available(p, name, split)), None)
    if data_root is not None and source_path is None and not download:
        raise FileNotFoundError(
            f"data_root {str(data_root)!r} does not hold the official {name} {split} files "
            f"(expected {_expected_files(name)}); pass download=True to fetch them there"
        )
    if source_path is None and download:
        if name == "cinic10":
            raise ValueError(
                "download: CINIC-10 is not downloaded by qrobust-lite; get a copy "
                "and pass data_root= (layout CINIC-10/{train,valid,test}/<class>/*.png)"
            )
        source_path = download_dataset(name, data_root)

    rng = np.random.default_rng(seed)
    if source_path is not None:
        images, labels = _read_official(source_path, name, split, cls, per_class, rng)
        origin = source = f"official files in {source_path}"
        if name == "cifar10" and _cifar_paths(source_path, split) is None:
            origin = source = (
                f"derived subset (the first 1,000 images of each official batch, "
                f"not an official file) in {source_path / _CIFAR_SUBSET_FOLDER}"
            )
    elif name in _BUNDLED_PER_CLASS:
        images, labels = _load_bundled(name, split)
        origin = "bundled subset"
        source = f"{origin}, {_BUNDLED_PER_CLASS[name][split]} per class (full set: data_root= or ${ENV_VAR})"
    else:
        raise FileNotFoundError(
            f"{name} is not bundled and no local copy was found in {[str(p) for _, p in candidate_roots(data_root)]}; "
            f"pass data_root= to a folder holding {_expected_files(name)}"
        )

    if name == "cinic10":  # already sampled while decoding
        keep = np.arange(len(labels))
    else:
        keep = _select(labels, cls, per_class, rng, origin)
    images, labels = images[keep], labels[keep]
    remap = np.full(10, -1, dtype=np.int64)
    remap[cls] = np.arange(len(cls))
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    ds = Dataset(x, torch.from_numpy(remap[labels]), tuple(CLASS_NAMES[name][c] for c in cls), source)
    if verbose:
        print(notice(name, split, ds))
    return ds


@validate_params(name=Options(*DATASETS), split=Options(*SPLITS), ds=Instance(Dataset, "a Dataset made by load"))
def notice(name: str, split: str, ds: Dataset) -> str:
    """The one-line notice :func:`load` prints: how many images of ``name``/``split`` and from
    where (the hint in parentheses on its own line, so it fits a notebook's width)."""
    return f"[qrobust-lite] {name} {split}: {len(ds)} images, {ds.source}".replace(" (full set", "\n  (full set")
