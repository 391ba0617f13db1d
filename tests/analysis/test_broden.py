"""Reading a Broden-layout folder: index.csv, label.csv, R + 256 * G label masks (Bau et al.'s layout)."""

import numpy as np
import pytest
from PIL import Image

from keras_advinterp.analysis import broden, dissection

S = 16  # image side; masks are written at half of it, as broden1_224 (224 / 112)
LABELS = {3: ("red-c", "color(5)"), 300: ("dog", "object(2);part(1)"), 301: ("cat", "object(1)"),
          7: ("beach", "scene(1)")}


def _mask(labels: np.ndarray) -> Image.Image:
    rgb = np.zeros((*labels.shape, 3), np.uint8)
    rgb[..., 0], rgb[..., 1] = labels % 256, labels // 256
    return Image.fromarray(rgb)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three readable rows, one with a corrupt mask and one whose image is missing; the expected label maps."""
    root = tmp_path_factory.mktemp("broden")
    (root / "images" / "ade").mkdir(parents=True)
    rng = np.random.default_rng(0)
    half = S // 2
    want = {}
    rows = ["image,split,ih,iw,sh,sw,color,object,part,scene"]
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (S, S, 3), dtype=np.uint8)).save(root / f"images/ade/{i}.jpg")
        colour = np.zeros((half, half), np.int64)
        colour[: i + 2, :] = 3
        obj = np.zeros((half, half), np.int64)
        obj[:, : i + 1] = 300  # needs the green channel: 300 = 44 + 256
        obj[-1, -2:] = 301
        _mask(colour).save(root / f"images/ade/{i}_color.png")
        _mask(obj).save(root / f"images/ade/{i}_object.png")
        scene = "7" if i != 1 else ""
        rows.append(f"ade/{i}.jpg,{'train' if i < 2 else 'val'},{S},{S},{half},{half},ade/{i}_color.png,"
                    f"ade/{i}_object.png,,{scene}")
        want[i] = {3: np.kron(colour == 3, np.ones((2, 2), bool)), 300: np.kron(obj == 300, np.ones((2, 2), bool)),
                   301: np.kron(obj == 301, np.ones((2, 2), bool)), 7: np.full((S, S), scene == "7")}
    Image.fromarray(np.zeros((S, S, 3), np.uint8)).save(root / "images/ade/3.jpg")
    (root / "images/ade/3_color.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")  # corrupt
    rows.append(f"ade/3.jpg,train,{S},{S},{half},{half},ade/3_color.png,,,")
    rows.append(f"ade/4.jpg,train,{S},{S},{half},{half},,,,7")  # the image is missing
    (root / "index.csv").write_text("\n".join(rows) + "\n")
    (root / "label.csv").write_text("number,name,category,frequency,coverage,syns\n0,-,,0,0,\n"
                                    + "".join(f"{n},{name},{cat},1,1.0,\n" for n, (name, cat) in LABELS.items()))
    return root, want


def test_the_exact_masks_written_are_read_back(folder):
    root, want = folder
    with pytest.warns(UserWarning) as caught:
        b = broden.load_broden(root, size=(S, S))
    assert b.labels == [3, 7, 300, 301]
    assert b.concepts == ["red-c", "beach", "dog", "cat"]
    assert b.categories == ["color", "scene", "object", "object"]  # dog: object(2) beats part(1)
    assert b.files == ["ade/0.jpg", "ade/1.jpg", "ade/2.jpg"]
    assert b.x.shape == (3, S, S, 3) and b.x.dtype == np.float32 and 0 <= b.x.min() and b.x.max() <= 1
    assert b.masks.shape == (3, S, S, 4) and b.masks.dtype == bool
    for i in range(3):
        for j, number in enumerate(b.labels):
            np.testing.assert_array_equal(b.masks[i, ..., j], want[i][number], err_msg=f"image {i}, label {number}")
    # the corrupt mask and the missing image are skipped, each named with its reason
    assert [s[0] for s in b.skipped] == ["ade/3.jpg", "ade/4.jpg"]
    assert "3_color.png" in b.skipped[0][1] and "4.jpg" in b.skipped[1][1]
    messages = [str(w.message) for w in caught]
    assert any("skipped ade/3.jpg: 3_color.png" in m for m in messages)
    assert any("skipped ade/4.jpg" in m for m in messages)


def test_categories_concepts_split_and_limit_select(folder):
    root, want = folder
    b = broden.load_broden(root, size=(S, S), categories=["object"], concepts=["cat", 300], split="train", limit=2)
    assert b.labels == [301, 300] and b.concepts == ["cat", "dog"] and len(b) == 2
    np.testing.assert_array_equal(b.masks[1, ..., 1], want[1][300])
    with pytest.raises(ValueError, match=r"categories must be category columns.*Received: categories=\['nope'\]"):
        broden.load_broden(root, categories=["nope"])
    with pytest.raises(ValueError, match=r"Received unknown: \['zebra'\]"):
        broden.load_broden(root, concepts=["zebra"], limit=1)
    with pytest.raises(ValueError, match=r"size must be \(H, W\).*Received: size=None"):
        broden.load_broden(root, size=None)
    with pytest.raises(FileNotFoundError, match=r"no index.csv"):
        broden.load_broden(root / "images")


def test_without_label_csv_labels_are_numbers_with_their_column(folder, tmp_path):
    root, _ = folder
    (tmp_path / "index.csv").write_text((root / "index.csv").read_text().split("\n")[0] + "\n"
                                        + (root / "index.csv").read_text().split("\n")[1] + "\n")
    (tmp_path / "images").symlink_to(root / "images")
    b = broden.load_broden(tmp_path, size=(S, S))
    assert b.concepts == ["3", "7", "300", "301"] and b.categories == ["color", "scene", "object", "object"]


def test_the_stream_gives_the_same_batches_and_dissects(folder, shapes_clf):
    root, _ = folder
    with pytest.warns(UserWarning):
        b = broden.load_broden(root, size=(S, S))
    ds, names, cats = broden.broden_batches(root, ["red-c", "beach", "dog", "cat"], size=(S, S), batch_size=2)
    assert names == b.concepts and cats == b.categories
    with pytest.warns(UserWarning) as caught:
        got = list(ds.as_numpy_iterator())
    assert sorted(str(w.message).split(":")[1] for w in caught) == [" skipped ade/3.jpg", " skipped ade/4.jpg"]
    assert [len(x) for x, _ in got] == [2, 1]
    np.testing.assert_array_equal(np.concatenate([m for _, m in got]), b.masks)
    np.testing.assert_allclose(np.concatenate([x for x, _ in got]), b.x)
    # usable by dissection as it is (the shapes model resizes the 16x16 images inside)
    with pytest.warns(UserWarning):
        d = dissection.dissect_stream(shapes_clf, "block1_out", ds, names, cats, quantile=0.9)
    ref = dissection.dissect(shapes_clf, "block1_out", b.x, b.masks, b.concepts, b.categories, quantile=0.9)
    assert d.iou.shape == ref.iou.shape == (32, 4)
    np.testing.assert_allclose(d.iou, ref.iou, atol=0.02)
