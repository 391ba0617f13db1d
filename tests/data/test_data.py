import numpy as np
import pytest
from PIL import Image

from keras_advinterp import data
from keras_advinterp.data import shapes


def test_shapes_are_deterministic_and_seeded():
    a = data.load("shapes", "test", limit=20, seed=3)
    shapes.generate.cache_clear()
    b = data.load("shapes", "test", limit=20, seed=3)
    c = data.load("shapes", "test", limit=20, seed=4)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.masks, b.masks)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


def test_shapes_limit_takes_a_prefix_and_splits_differ():
    small = data.load("shapes", "test", limit=5)
    big = data.load("shapes", "test", limit=12)
    np.testing.assert_array_equal(small.x, big.x[:5])
    train = data.load("shapes", "train", limit=5)
    assert not np.array_equal(train.x, small.x)


def test_shapes_content(shapes_data):
    x, y = shapes_data
    assert x.shape[1:] == (64, 64, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert set(np.unique(y)) <= set(range(len(shapes.SHAPES)))
    frac = shapes_data.masks.reshape(len(x), -1).mean(1)
    assert frac.min() > 0.02 and frac.max() < 0.6  # one visible object per image
    # the object pixels carry the object's colour: they differ from the background
    inside = np.array([x[i][shapes_data.masks[i]].mean(0) for i in range(len(x))])
    outside = np.array([x[i][~shapes_data.masks[i]].mean(0) for i in range(len(x))])
    assert np.mean(np.abs(inside - outside).max(1) > 0.1) > 0.9
    assert set(shapes_data.concepts) == {"colour", "texture"}


def test_digits_and_photos():
    x, y = data.load("digits", "test")
    assert x.shape == (360, 32, 32, 1) and 0 <= x.min() and x.max() <= 1
    assert set(np.unique(y)) == set(range(10))
    p = data.load("photos", size=(96, 96))
    assert p.x.shape == (3, 96, 96, 3) and p.class_names[p.y[0]].startswith("tabby")


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "cifar"}, "unknown data set 'cifar'"),
    ({"name": "shapes", "split": "dev"}, "split must be one of"),
    ({"name": "shapes", "limit": 0}, "limit must be a positive int"),
])
def test_load_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load(**kwargs)


def _write_png(path, rng, size=(10, 12)):
    Image.fromarray((rng.random((*size, 3)) * 255).astype(np.uint8)).save(path)


def test_folder_reports_and_skips_corrupt_files(tmp_path, rng):
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            _write_png(tmp_path / cls / f"{i}.png", rng)
    (tmp_path / "dog" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "dog" / "notes.txt").write_text("hello")
    with pytest.warns(UserWarning) as caught:
        x, y, idx = data.load_folder(tmp_path, size=(16, 16))
    said = [str(w.message) for w in caught]
    assert any("skipped dog/broken.jpg: not an image" in m for m in said), said
    assert any("skipped dog/notes.txt: not an image file extension" in m for m in said), said
    assert x.shape == (4, 16, 16, 3) and list(y) == [0, 0, 1, 1]
    assert idx.class_names == ["cat", "dog"]
    skipped = {s[0].rsplit("/", 1)[-1] for s in idx.skipped}
    assert skipped == {"broken.jpg", "notes.txt"}


def test_flat_folder_with_labels_file_and_tf_data(tmp_path, rng):
    for name in ("a.png", "b.png", "c.png"):
        _write_png(tmp_path / name, rng)
    (tmp_path / "bad.png").write_bytes(b"garbage")
    labels = tmp_path.parent / "labels.csv"
    labels.write_text("filename,label\na.png,2\nb.png,0\nc.png,1\n")
    idx = data.index_folder(tmp_path, labels)
    assert [f.name for f in idx.files] == ["a.png", "b.png", "bad.png", "c.png"]
    ds, idx = data.folder_dataset(tmp_path, size=(8, 8), batch_size=2, labels_file=labels)
    with pytest.warns(UserWarning, match="skipped bad.png"):
        batches = list(ds)
    got = np.concatenate([b[1].numpy() for b in batches])
    assert list(got) == [2, 0, 1]
    assert batches[0][0].shape == (2, 8, 8, 3)


def test_missing_folder():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.index_folder("/no/such/folder")
