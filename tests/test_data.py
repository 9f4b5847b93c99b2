"""qrobust_lite.data: every source, the bundled subsets, and argument validation."""

import gzip
import hashlib
import io
import json
import pickle
import subprocess
import sys
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch

from qrobust_lite import data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_sources(monkeypatch, tmp_path):
    """No test sees the user's real cache or $QROBUST_DATA."""
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "cache_dir", lambda: tmp_path / "cache")


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_mnist_root(root: Path, per_class: int = 3, folder: str = "MNIST") -> np.ndarray:
    labels = np.repeat(np.arange(10), per_class).astype(np.uint8)
    images = (np.arange(len(labels))[:, None, None] * np.ones((1, 28, 28))).astype(np.uint8)
    for prefix in ("train", "t10k"):
        write_idx(root / folder / "raw" / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(root / folder / "raw" / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return labels


# --- bundled subsets -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,split,shape",
    [
        ("mnist", "train", (5000, 1, 28, 28)),
        ("mnist", "test", (1000, 1, 28, 28)),
        ("fashion_mnist", "train", (5000, 1, 28, 28)),
        ("fashion_mnist", "test", (1000, 1, 28, 28)),
        ("cifar10", "train", (1500, 3, 32, 32)),
        ("cifar10", "test", (500, 3, 32, 32)),
    ],
)
def test_bundled_subsets_are_real_balanced_images(name, split, shape):
    ds = data.load(name, split, verbose=False)
    assert tuple(ds.images.shape) == shape
    assert ds.images.dtype == torch.float32
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    counts = torch.bincount(ds.labels, minlength=10)
    assert (counts == shape[0] // 10).all()
    assert ds.images.std() > 0.1  # real pictures, not blanks
    assert "bundled" in ds.source


def test_bundled_files_are_small_plain_arrays_with_checksums():
    folder = resources.files("qrobust_lite") / "bundled"
    sums = json.loads((folder / "checksums.json").read_text())
    total = 0
    for fname, sha in sums.items():
        raw = (folder / fname).read_bytes()
        total += len(raw)
        assert hashlib.sha256(raw).hexdigest() == sha
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:  # would raise on object arrays
            assert set(z.files) == {"images", "labels"}
    assert total <= 10 * 2**20


def test_corrupt_bundled_file_is_refused(monkeypatch, tmp_path):
    folder = tmp_path / "qrobust_lite" / "bundled"
    folder.mkdir(parents=True)
    real = resources.files("qrobust_lite") / "bundled"
    (folder / "checksums.json").write_text((real / "checksums.json").read_text())
    raw = bytearray((real / "mnist_test.npz").read_bytes())
    raw[100] ^= 0xFF
    (folder / "mnist_test.npz").write_bytes(bytes(raw))
    monkeypatch.setattr(data.resources, "files", lambda pkg: tmp_path / "qrobust_lite")
    with pytest.raises(OSError, match="SHA-256"):
        data.load("mnist", "test", verbose=False)


@pytest.mark.skipif(not (SHARED / "MNIST").is_dir(), reason="shared official data not present")
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_bundled_subset_is_first_images_per_class_of_the_official_set(name):
    full = data.load(name, "test", data_root=SHARED, verbose=False)
    small = data.load(name, "test", verbose=False)
    first = np.sort(np.concatenate([np.flatnonzero(full.labels.numpy() == c)[:100] for c in range(10)]))
    assert torch.equal(small.images, full.images[first])
    assert torch.equal(small.labels, full.labels[first])


@pytest.mark.skipif(not (SHARED / "MNIST").is_dir(), reason="shared official data not present")
def test_full_official_mnist_loads_from_root():
    ds = data.load("mnist", "train", data_root=SHARED, verbose=False)
    assert len(ds) == 60000 and ds.source.startswith("official files")


# --- sampling ------------------------------------------------------------------------------


def test_class_subset_by_name_and_index_is_renumbered_and_balanced():
    ds = data.load("fashion_mnist", "train", n_samples=41, classes=["Bag", 0], seed=3, verbose=False)
    assert ds.class_names == ("Bag", "T-shirt/top")
    assert torch.bincount(ds.labels).tolist() == [21, 20]


def test_same_seed_same_sample_and_other_seed_differs():
    a = data.load("mnist", "train", n_samples=30, seed=1, verbose=False)
    b = data.load("mnist", "train", n_samples=30, seed=1, verbose=False)
    c = data.load("mnist", "train", n_samples=30, seed=2, verbose=False)
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.images, c.images)


def test_asking_for_more_than_the_bundled_subset_has_is_an_error():
    with pytest.raises(ValueError, match="n_samples asks for 600 images of class 0 but the bundled"):
        data.load("mnist", "train", n_samples=6000, verbose=False)


def test_notice_names_the_source(capsys):
    data.load("cifar10", "test", n_samples=10)
    assert "[qrobust-lite] cifar10 test: 10 images, bundled subset, 50 per class" in capsys.readouterr().out


# --- official files: root, env var, cache, download ----------------------------------------


def test_root_with_official_idx_files(tmp_path):
    make_mnist_root(tmp_path)
    ds = data.load("mnist", "test", data_root=tmp_path, n_samples=20, verbose=False)
    assert len(ds) == 20 and "official files" in ds.source


def test_sources_in_order_env_var_then_cache(monkeypatch, tmp_path):
    env_root, cache = tmp_path / "env", tmp_path / "cache"
    make_mnist_root(cache)
    assert data.load("mnist", "test", verbose=False).source.endswith(str(cache))
    make_mnist_root(env_root)
    monkeypatch.setenv(data.ENV_VAR, str(env_root))
    assert data.load("mnist", "test", verbose=False).source.endswith(str(env_root))
    assert data.available_sources("mnist", "test")[0].startswith(f"${data.ENV_VAR}")


def test_explicit_root_without_the_files_is_an_error_not_a_silent_fallback(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_root .* does not hold the official mnist"):
        data.load("mnist", data_root=tmp_path, verbose=False)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        data.load("mnist", data_root=tmp_path / "missing", verbose=False)


def test_cifar_batches_load_and_unpickler_refuses_other_classes(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i, name in enumerate(
        ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    ):
        batch = {"data": np.full((10, 3072), i, np.uint8), "labels": list(range(10))}
        (folder / name).write_bytes(pickle.dumps(batch))
    ds = data.load("cifar10", "train", data_root=tmp_path, verbose=False)
    assert tuple(ds.images.shape) == (50, 3, 32, 32)
    (folder / "test_batch").write_bytes(pickle.dumps({"data": data.Dataset}))
    with pytest.raises(
        ValueError,
        match="test_batch is not an official CIFAR-10 batch: UnpicklingError: "
        "refusing to load qrobust_lite.data.Dataset",
    ):
        data.load("cifar10", "test", data_root=tmp_path, verbose=False)


def test_a_cinic_image_of_the_wrong_size_or_not_a_png_is_refused_by_name(tmp_path):
    from PIL import Image

    folder = tmp_path / "CINIC-10" / "test" / "airplane"
    folder.mkdir(parents=True)
    Image.new("RGB", (64, 32)).save(folder / "0.png")
    with pytest.raises(ValueError, match=r"0.png is 64x32 pixels; CINIC-10 images are 32x32"):
        data.load("cinic10", "test", data_root=tmp_path, classes=[0], verbose=False)
    (folder / "0.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"0.png cannot be read as a PNG"):
        data.load("cinic10", "test", data_root=tmp_path, classes=[0], verbose=False)


def test_cinic_folder_layout_reads_only_the_sampled_pngs(tmp_path):
    from PIL import Image

    for c in data.CLASS_NAMES["cinic10"][:3]:
        (tmp_path / "CINIC-10" / "test" / c).mkdir(parents=True)
        for j in range(4):
            Image.new("RGB", (32, 32), (j * 40, 0, 0)).save(tmp_path / "CINIC-10" / "test" / c / f"{j}.png")
    ds = data.load("cinic10", "test", data_root=tmp_path, classes=[0, 2], n_samples=4, verbose=False)
    assert tuple(ds.images.shape) == (4, 3, 32, 32)
    assert ds.class_names == ("airplane", "bird") and torch.bincount(ds.labels).tolist() == [2, 2]


def test_cinic_without_a_copy_says_how_to_get_one():
    with pytest.raises(FileNotFoundError, match="cinic10 is not bundled"):
        data.load("cinic10", verbose=False)
    with pytest.raises(ValueError, match="CINIC-10 is not downloaded"):
        data.load("cinic10", download=True, verbose=False)


def test_download_only_when_asked_and_checked_by_md5(monkeypatch, tmp_path):
    source = tmp_path / "server"
    make_mnist_root(source)
    files = {p.name: p.read_bytes() for p in (source / "MNIST" / "raw").iterdir()}
    monkeypatch.setitem(data._IDX_FILES, "mnist", {k: hashlib.md5(v).hexdigest() for k, v in files.items()})
    requested = []

    def fake_urlopen(url, timeout):
        requested.append(url)
        return io.BytesIO(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(data.urllib.request, "urlopen", fake_urlopen)
    assert "bundled" in data.load("mnist", "test", verbose=False).source
    assert requested == []
    ds = data.load("mnist", "test", download=True, verbose=False)
    assert len(requested) == 4 and "official files" in ds.source
    assert (tmp_path / "cache" / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").is_file()


def test_download_never_overwrites_a_different_file(monkeypatch, tmp_path):
    target = tmp_path / "mine" / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"my own notes")
    monkeypatch.setattr(data.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(b"x"))
    with pytest.raises(FileExistsError, match="MD5 differs"):
        data.download_dataset("mnist", tmp_path / "mine")
    assert target.read_bytes() == b"my own notes"


def test_bad_download_is_not_kept(monkeypatch, tmp_path):
    monkeypatch.setattr(data.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(b"broken"))
    with pytest.raises(OSError, match="failed its MD5 check"):
        data.download_dataset("mnist", tmp_path)
    assert not list((tmp_path / "MNIST" / "raw").iterdir())


def test_works_when_torchvision_cannot_be_imported():
    code = (
        "import sys; sys.modules['torchvision'] = None\n"
        "import qrobust_lite.data as d, qrobust_lite.circuits, qrobust_lite.preprocessing\n"
        "print(len(d.load('mnist', 'test', n_samples=10, verbose=False)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "10"


# --- argument validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"name": "svhn"}, "name must be one of"),
        ({"split": "val"}, "split must be one of"),
        ({"n_samples": 5}, r"n_samples must be an integer >= the number of classes \(10\)"),
        ({"n_samples": 2.5}, "n_samples must be a positive integer or None, got 2.5"),
        ({"classes": [10]}, "classes: 10 is not a class of mnist"),
        ({"classes": ["cat"]}, "classes: 'cat' is not a class of mnist"),
        ({"classes": []}, r"classes must be a list or tuple of at least 1 item\(s\) or None, got \[\]"),
        ({"classes": [1, 1]}, "classes must not repeat"),
        ({"seed": -1}, "seed must be an integer >= 0"),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs, match):
    args = {"name": "mnist", **kwargs}
    with pytest.raises(ValueError, match=match):
        data.load(verbose=False, **args)


def test_download_flag_must_be_boolean():
    with pytest.raises(TypeError, match="download must be True or False"):
        data.load("mnist", download="yes", verbose=False)


def test_read_idx_rejects_other_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="bad is not an unsigned-byte IDX file"):
        data.read_idx(tmp_path / "bad", "labels")
    with pytest.raises(ValueError, match=r"kind must be one of \['images', 'labels'\]"):
        data.read_idx(tmp_path / "bad", "pixels")


# --- users' own files: dtype, shape, range and size checked before anything is allocated ------


@pytest.mark.parametrize(
    "kind,array,match",
    [
        (
            "images",
            np.zeros((4, 5, 5)),
            r"images of shape \(4, 5, 5\); an official file holds 1 to 60,000 images "
            "of 28x28 pixels",
        ),
        ("labels", np.array([1, 2, 12]), "holds label 12; official labels are 0-9"),
        ("labels", np.zeros(0), r"labels of shape \(0,\)"),
    ],
)
def test_an_idx_file_of_the_wrong_shape_or_range_is_refused_by_name(tmp_path, kind, array, match):
    path = tmp_path / "file.gz"
    write_idx(path, array)
    with pytest.raises(ValueError, match=rf"{path}.*{match}"):
        data.read_idx(path, kind)


def test_a_gzip_that_expands_past_its_header_is_refused_without_expanding(tmp_path):
    import tracemalloc

    path = tmp_path / "bomb.gz"
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (10, 28, 28))
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header)
        for _ in range(64):
            f.write(bytes(2**20))  # 64 MiB of zeros behind a header that says 7,840 bytes
    huge = tmp_path / "huge.gz"
    with gzip.open(huge, "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (2**30, 28, 28)))
    tracemalloc.start()
    with pytest.raises(ValueError, match=r"bomb.gz holds more values where its header says \(10, 28, 28\)"):
        data.read_idx(path, "images")
    with pytest.raises(ValueError, match=r"images of shape \(1073741824, 28, 28\)"):
        data.read_idx(huge, "images")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2**20


def write_batch(path: Path, batch) -> Path:
    path.write_bytes(pickle.dumps(batch))
    return path


@pytest.mark.parametrize(
    "batch,match",
    [
        (
            {"data": np.random.default_rng(0).random((4, 3072)), "labels": [0] * 4},
            r"'data' is float64 \(4, 3072\); official batches hold a uint8 array",
        ),
        ({"data": np.full((4, 3072), 300, dtype=np.int64), "labels": [0] * 4}, "'data' is int64"),
        ({"data": [[0] * 3072] * 4, "labels": [0] * 4}, "'data' is list"),
        ({"labels": [0] * 4}, "it must be a dict with keys 'data' and 'labels'"),
        ([1, 2, 3], "it must be a dict with keys 'data' and 'labels'"),
        ({"data": np.zeros((4, 3072), np.uint8), "labels": [0, 1, 2, 10]}, "a list of N labels 0-9"),
        ({"data": np.zeros((4, 3072), np.uint8), "labels": [[0] * 3072] * 4}, "a list of N labels 0-9"),
    ],
)
def test_a_cifar_batch_that_is_not_official_is_refused_by_name(tmp_path, batch, match):
    path = write_batch(tmp_path / "data_batch_1", batch)
    with pytest.raises(ValueError, match=rf"{path} is not an official CIFAR-10 batch: .*{match}"):
        data._read_cifar_batch(path)


def test_a_cifar_batch_that_is_not_a_pickle_or_holds_code_is_refused_by_name(tmp_path):
    import os as os_module

    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x80\x02}q\x00(X\x04\x00")
    with pytest.raises(ValueError, match=f"{garbage} is not an official CIFAR-10 batch"):
        data._read_cifar_batch(garbage)
    code = write_batch(tmp_path / "code", {"data": os_module.getcwd, "labels": []})
    with pytest.raises(ValueError, match=f"{code} is not an official CIFAR-10 batch.*refusing to load"):
        data._read_cifar_batch(code)


def test_a_small_cifar_pickle_of_shared_references_is_refused_without_expanding(tmp_path):
    import tracemalloc

    row = list(range(3072))
    few = write_batch(tmp_path / "few", {"data": np.zeros((2, 3072), np.uint8), "labels": [row] * 50_000})
    many = write_batch(tmp_path / "many", {"data": [row] * 400_000, "labels": [0] * 400_000})
    assert many.stat().st_size < 2 * 2**20
    tracemalloc.start()
    with pytest.raises(ValueError, match="a list of N labels 0-9"):
        data._read_cifar_batch(few)
    with pytest.raises(ValueError, match=r"its pickle takes [\d,]+ steps \(at most 100,000\)"):
        data._read_cifar_batch(many)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 * 2**20


def test_download_and_sources_validate_their_arguments():
    with pytest.raises(ValueError, match="name must be one of"):
        data.download_dataset("cinic10")
    with pytest.raises(ValueError, match="split must be one of"):
        data.available_sources("mnist", "validation")


# --- damaged or inconsistent official files: a clear error naming the file ------------------


def test_image_and_label_files_of_different_lengths_are_refused(tmp_path):
    make_mnist_root(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.zeros(27, dtype=np.uint8))  # 30 images
    with pytest.raises(ValueError, match="holds 30 images but .*t10k-labels-idx1-ubyte.gz 27 labels"):
        data.load("mnist", "test", data_root=tmp_path, verbose=False)


def test_an_image_file_with_a_one_dimensional_header_is_refused(tmp_path):
    make_mnist_root(tmp_path)
    write_idx(tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz", np.zeros(30, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"holds a 1-dimensional array; expected 3 dimensions \(images"):
        data.load("mnist", "test", data_root=tmp_path, verbose=False)


def test_a_truncated_gzip_file_names_its_path_and_the_fix(tmp_path):
    make_mnist_root(tmp_path)
    path = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match=rf"{path} cannot be read .*download the official file again"):
        data.load("mnist", "test", data_root=tmp_path, verbose=False)


def test_a_cifar_batch_with_fewer_labels_than_images_is_refused(tmp_path):
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({"data": np.zeros((10, 3072), dtype=np.uint8), "labels": [0] * 5}))
    with pytest.raises(ValueError, match=r"holds \(10, 3072\) image data and 5 labels"):
        data._read_cifar_batch(path)


def test_a_qrobust_data_that_is_not_a_folder_is_said_once(monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.warns(UserWarning, match=r"\$QROBUST_DATA is .*nowhere.*which is not a folder"):
        data.candidate_roots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.candidate_roots()  # said once


@pytest.mark.skipif(not (SHARED / "cifar10_subset").is_dir(), reason="the shared data folder is not here")
def test_the_derived_cifar_subset_is_read_checked_and_named_as_such(tmp_path, capsys):
    ds = data.load("cifar10", "train", data_root=SHARED)
    assert tuple(ds.images.shape) == (5000, 3, 32, 32) and torch.bincount(ds.labels).min() > 0
    assert "derived subset" in ds.source and "not an official file" in ds.source
    assert "derived subset" in capsys.readouterr().out
    with np.load(SHARED / "cifar10_subset" / "cifar10_train_first1000_per_batch.npz") as z:
        first = torch.from_numpy(z["data"][:1].reshape(1, 3, 32, 32)).float() / 255  # the batches' layout
        assert torch.equal(ds.images[:1], first) and int(ds.labels[0]) == int(z["labels"][0])
    test = data.load("cifar10", "test", data_root=SHARED, n_samples=500, verbose=False)
    assert torch.bincount(test.labels).tolist() == [50] * 10
    with pytest.raises(ValueError, match="n_samples asks for 99 images of class"):  # 86 to 112 per class
        data.load("cifar10", "test", data_root=SHARED, n_samples=990, verbose=False)
    every = data.load("cifar10", "test", data_root=SHARED, n_samples=1000, verbose=False)  # all of them, as they fall
    assert len(every) == 1000 and torch.bincount(every.labels).min() == 86
    assert any("derived subset" in s for s in data.available_sources("cifar10", "test", data_root=SHARED))
    # a damaged copy is refused, not read
    (tmp_path / "cifar10_subset").mkdir()
    damaged = tmp_path / "cifar10_subset" / "cifar10_test_first1000.npz"
    damaged.write_bytes((SHARED / "cifar10_subset" / "cifar10_test_first1000.npz").read_bytes()[:-10] + b"0" * 10)
    with pytest.raises(ValueError, match="does not match the derived CIFAR-10 subset's MD5"):
        data.load("cifar10", "test", data_root=tmp_path, verbose=False)
