"""Image folders: labels in the model's indices, readable skip reports, saved copies read back."""

import warnings

import numpy as np
import pytest
from PIL import Image

from keras_advinterp import data

SHAPES = ["circle", "square", "triangle", "star", "cross", "ring"]


def _png(path, value, size=(8, 8)):
    """An RGB PNG filled with 8-bit ``value`` (int or triple); returns its pixels in [0, 1]."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.broadcast_to(np.asarray(value, np.uint8), (*size, 3)).copy()
    Image.fromarray(pixels).save(path)
    return pixels.astype(np.float32) / 255


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture
def shapes_folder(tmp_path):
    """Class folders named like (not exactly as) the model's classes; sorted order differs from the model's."""
    for i, cls in enumerate(["Circle", "ring", "Square", "tri-angles"]):
        for j in range(2):
            _png(tmp_path / cls / f"{j}.png", 30 * i + j)
    return tmp_path


def test_folder_classes_become_model_indices_by_name(shapes_folder):
    x, y, idx = data.load_folder(shapes_folder, size=(8, 8), class_names=["Tri_Angles", *SHAPES[:2], "ring"])
    # model order: Tri_Angles=0, circle=1, square=2, ring=3; sorted folders: Circle, Square, ring, tri-angles
    assert [idx.relative(f) for f in idx.files] == ["Circle/0.png", "Circle/1.png", "Square/0.png", "Square/1.png",
                                                    "ring/0.png", "ring/1.png", "tri-angles/0.png", "tri-angles/1.png"]
    assert list(y) == [1, 1, 2, 2, 3, 3, 0, 0]
    assert idx.class_names == ["Tri_Angles", "circle", "square", "ring"] and idx.unmatched == []
    assert idx.label_source == "class folder names matched to the model's classes"
    assert idx.x is x and idx.y is y  # the returned object also carries x and y by name
    np.testing.assert_allclose(x[6], np.full((8, 8, 3), 90 / 255, np.float32))  # tri-angles/0.png's pixels


def test_without_model_names_folders_keep_sorted_order(shapes_folder):
    _, y, idx = data.load_folder(shapes_folder, size=(8, 8))
    assert idx.class_names == ["Circle", "Square", "ring", "tri-angles"] and list(y) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_unmatched_folder_classes_error_or_come_from_predictions(shapes_folder):
    with pytest.raises(ValueError, match=r"'tri-angles' \(closest: 'triangle'\).*`--labels predicted`"):
        data.load_folder(shapes_folder, size=(8, 8), class_names=SHAPES)
    _, y, idx = data.load_folder(shapes_folder, size=(8, 8), class_names=SHAPES, unmatched="predict")
    assert list(y) == [0, 0, 1, 1, 5, 5, -1, -1] and idx.unmatched == ["tri-angles"]
    assert idx.label_source == ("class folder names matched to the model's classes, the model's clean predictions "
                                "where no label is known (no model class for: tri-angles)")


def test_imagenet_synset_folders(tmp_path):
    _png(tmp_path / "n01440764" / "a.png", 0)
    _png(tmp_path / "n02123045" / "b.png", 0)
    d = data.load(str(tmp_path), size=(8, 8), class_names=data.imagenet_class_names())
    assert list(d.y) == [0, 281] and d.class_names[281] == "tabby"


def test_skipped_files_are_reported_relative_to_the_root(tmp_path, rng):
    _png(tmp_path / "dog" / "good.png", 200)
    (tmp_path / "dog" / "empty.png").write_bytes(b"")
    (tmp_path / "dog" / "notes.txt").write_text("hi")
    (tmp_path / "dog" / ".DS_Store").write_bytes(b"\0\0")  # hidden: ignored silently
    (tmp_path / ".hidden_class").mkdir()
    _png(tmp_path / "dog" / "extra" / "deep.png", 0)
    _png(tmp_path / "loose.png", 0)
    big = tmp_path / "cat" / "cut.png"
    _png(big, 0)
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(big)
    big.write_bytes(big.read_bytes()[:3000])
    _png(tmp_path / "cat" / "ok.png", 100)
    with pytest.warns(UserWarning) as record:
        x, y, idx = data.load_folder(tmp_path, size=(8, 8))
    assert sorted(idx.skipped) == [("cat/cut.png", "truncated"), ("dog/empty.png", "empty file"),
                                   ("dog/extra", "subfolder ignored"), ("dog/notes.txt", "not an image file extension"),
                                   ("loose.png", "not in a class folder")]
    assert "skipped dog/empty.png: empty file" in idx.skipped_lines()
    assert sorted(str(w.message) for w in record) == sorted(idx.skipped_lines())
    assert [idx.relative(f) for f in idx.files] == ["cat/ok.png", "dog/good.png"] and list(y) == [0, 1]
    assert x.shape == (2, 8, 8, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warn=False: the caller prints idx.skipped itself
        assert data.load_folder(tmp_path, size=(8, 8), warn=False).skipped == idx.skipped


def test_limit_counts_readable_images_only(tmp_path):
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"")
    pixels = [_png(tmp_path / f"{c}.png", v) for c, v in (("c", 10), ("d", 20), ("e", 30))]
    x, _, idx = _quiet(data.load_folder, tmp_path, size=(8, 8), limit=2)
    assert [f.name for f in idx.files] == ["c.png", "d.png"]
    np.testing.assert_array_equal(x, np.stack(pixels[:2]))
    assert [s[0] for s in idx.skipped] == ["a.png", "b.png"]  # e.png was never reached, never reported


@pytest.mark.parametrize("layout", ["classes", "flat"])
def test_saved_adversarial_folder_reads_back_with_labels_and_pixels(tmp_path, rng, layout):
    src = tmp_path / "src"
    names = ["circle/img0.png", "circle/img1.jpg", "star/img0.png"] if layout == "classes" else ["a", "b", "c"]
    for n in names:
        if layout == "classes":
            _png(src / n, 0)
    x_adv = rng.random((3, 8, 8, 3)).astype(np.float32)
    labels, predictions = np.array([0, 0, 3]), np.array([2, 5, 1])
    paths, saved = data.save_adversarial_folder(
        tmp_path / "out", x_adv, [str(src / n) for n in names], labels, predictions,
        root=src if layout == "classes" else None)
    rel = ["circle/img0.png", "circle/img1.png", "star/img0.png"] if layout == "classes" else [
        "000000.png", "000001.png", "000002.png"]
    assert [p.relative_to(tmp_path / "out").as_posix() for p in paths] == rel
    assert (tmp_path / "out" / "labels.csv").read_text().splitlines() == [
        "file,label,adversarial_prediction", f"{rel[0]},0,2", f"{rel[1]},0,5", f"{rel[2]},3,1"]
    x, y, idx = data.load_folder(tmp_path / "out", size=(8, 8), class_names=SHAPES)
    assert [idx.relative(f) for f in idx.files] == rel and idx.skipped == [] and idx.label_source == "labels.csv"
    np.testing.assert_array_equal(y, labels)  # from labels.csv, in the model's indices
    np.testing.assert_array_equal(x, saved)  # lossless 8-bit
    assert np.abs(saved - x_adv).max() <= 0.5 / 255 + 1e-7


def test_saved_grey_images_and_name_collisions(tmp_path, rng):
    src = tmp_path / "src"
    for n in ("k/a.png", "k/a.jpg"):
        _png(src / n, 0)
    x_adv = rng.random((2, 8, 8, 1)).astype(np.float32)
    paths, saved = data.save_adversarial_folder(tmp_path / "out", x_adv, [src / "k/a.png", src / "k/a.jpg"],
                                                [4, 4], [1, 2], root=src)
    assert [p.name for p in paths] == ["a.png", "a-000001.png"]  # the second does not overwrite the first
    x, y, _ = data.load_folder(tmp_path / "out", size=(8, 8), channels=1, class_names=SHAPES)
    np.testing.assert_array_equal(x, saved[[1, 0]])  # sorted by file name
    assert list(y) == [4, 4]


def test_labels_csv_with_indices_outside_the_model(tmp_path):
    _png(tmp_path / "a.png", 0)
    (tmp_path / "labels.csv").write_text("file,label\na.png,7\n")
    with pytest.raises(ValueError, match=r"outside the model's 6 classes \(0..5\): \[7\]"):
        data.load_folder(tmp_path, size=(8, 8), class_names=SHAPES)


def test_folder_dataset_reads_like_load_folder(tmp_path):
    grey16 = (np.arange(64).reshape(8, 8) * 1000).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "a16.png")
    Image.new("RGBA", (8, 8), (255, 0, 0, 51)).save(tmp_path / "b.png")
    (tmp_path / "c.png").write_bytes(b"")
    (tmp_path / "labels.csv").write_text("file,label\na16.png,square\nb.png,1\n")
    x, y, _ = _quiet(data.load_folder, tmp_path, size=(8, 8), class_names=SHAPES)
    ds, idx = data.folder_dataset(tmp_path, size=(8, 8), batch_size=4, class_names=SHAPES)
    with pytest.warns(UserWarning, match="skipped c.png: empty file"):
        (xb, yb, ib), = list(ds)
    np.testing.assert_array_equal(xb.numpy(), x)
    np.testing.assert_allclose(x[0, ..., 0], grey16 / 65535.0, atol=1e-6)
    np.testing.assert_allclose(x[1, 0, 0], [1.0, 0.8, 0.8], atol=1e-6)
    assert list(yb.numpy()) == list(y) == [1, 1] and list(ib.numpy()) == [0, 1]
    assert idx.skipped == [("c.png", "empty file")]


def test_load_returns_skipped(tmp_path):
    _png(tmp_path / "a.png", 0)
    (tmp_path / "b.png").write_text("not an image")
    d = _quiet(data.load, str(tmp_path), size=(8, 8))
    assert len(d) == 1 and d.skipped == [("b.png", "not an image")] and list(d.y) == [-1]
    folder = _quiet(data.load_folder, tmp_path, size=(8, 8), class_names=SHAPES)
    assert folder.label_source == "the model's clean predictions where no label is known"
