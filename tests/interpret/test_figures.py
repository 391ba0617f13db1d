"""Explanation figures: paged PNGs, file names as titles, no overlaps, no blank bands."""

import itertools

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_advinterp.interpret.figures import explanation_figures

CLASSES = ["circle", "square", "a very long class name, with synonyms, as ImageNet has them"]
N = 20
METHOD = "gradcam_xla on a_user_model_with_a_long_name_v3"
BAND = 6  # pixels: the tallest all-white stripe allowed between the first and the last drawn row


def _names(n):
    return [f"photos/class_{i % 3}/camera_{i:03d}_a_long_file_name_from_a_phone_export_final_v2.jpg" if i % 2
            else f"img{i}.png" for i in range(n)]


def _inputs(n, attack=True):
    rng = np.random.default_rng(0)
    x = rng.random((n, 24, 24, 3)).astype("float32")
    args = dict(x=x, maps=rng.random((n, 24, 24)), names=_names(n), class_names=CLASSES,
                labels=rng.integers(0, 3, n), clean_pred=rng.integers(0, 3, n), clean_conf=rng.random(n))
    if attack:
        args.update(x_adv=np.clip(x + 0.03, 0, 1), maps_adv=rng.random((n, 24, 24)),
                    adv_pred=rng.integers(0, 3, n), adv_conf=rng.random(n), success=rng.random(n) > 0.5)
    return args


def _draw(tmp_path, name, **kwargs):
    """Writes the pages; returns their paths and, per page, the figure texts and their boxes."""
    pages, save = [], Figure.savefig

    def spy(fig, *args, **kw):
        fig.canvas.draw()
        texts = [(t.get_text(), t.get_window_extent()) for t in fig.texts if t.get_text()]
        pages.append({"texts": texts, "axes": [ax.get_window_extent() for ax in fig.axes]})
        return save(fig, *args, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Figure, "savefig", spy)
        paths = explanation_figures(tmp_path / f"{name}.png", **kwargs)
    return paths, pages


def _longest_white_band(path) -> int:
    """Tallest run of all-white pixel rows between the first and the last drawn row."""
    white = (matplotlib.image.imread(path)[..., :3] >= 0.99).all(axis=(1, 2))
    drawn = np.flatnonzero(~white)
    inner = white[drawn[0] : drawn[-1] + 1]
    return max((len(list(g)) for w, g in itertools.groupby(inner) if w), default=0)


@pytest.fixture(scope="module")
def attack_run(tmp_path_factory):
    return _draw(tmp_path_factory.mktemp("figures"), "gradcam", method=METHOD, **_inputs(N))


def test_long_attack_runs_are_paged_at_16_rows(attack_run, tmp_path):
    paths, _ = attack_run
    assert [p.name for p in paths] == ["gradcam.png", "gradcam_2.png"]
    eights, _ = _draw(tmp_path, "eights", rows_per_page=8, **_inputs(N))
    assert [p.name for p in eights] == ["eights.png", "eights_2.png", "eights_3.png"]
    (h16, w16), (h4, w4) = (matplotlib.image.imread(p).shape[:2] for p in paths)
    h8, w8 = matplotlib.image.imread(eights[0]).shape[:2]
    assert w16 == w8 == w4
    assert abs((h16 - h8) - 2 * (h8 - h4)) <= 2  # a fixed pitch per row: height = header + rows * pitch
    assert (h8 - h4) / 4 >= 100 and h16 < 3000  # rows are readable, and pages stay small


def test_rows_are_titled_with_file_names_and_predictions(attack_run):
    _, pages = attack_run
    texts = [t for page in pages for t, _ in page["texts"]]
    assert sum(t.startswith("img") for t in texts) == N // 2 and "img18.png" in texts
    headers = [t for t in texts if t.endswith("/2)")]  # a long method is cut, the page number kept
    assert [h[-10:] for h in headers] == ["(page 1/2)", "(page 2/2)"] and all("…" in h for h in headers)
    assert not any("photos/" in t or "class_1/" in t for t in texts)  # base names only
    for i in range(1, N, 2):  # long names: wrapped onto two lines, their ends kept
        name = f"camera_{i:03d}_a_long_file_name_from_a_phone_export_final_v2.jpg"
        first = [j for j, t in enumerate(texts) if name.startswith(t) and len(t) > 10]
        assert first and texts[first[0] + 1].endswith("_final_v2.jpg"), name
    args = _inputs(N)
    assert sum(t == "attack succeeded" for t in texts) == args["success"].sum()
    assert sum(t == "attack failed" for t in texts) == N - args["success"].sum()
    assert f"clean: {CLASSES[args['clean_pred'][0]]} {args['clean_conf'][0]:.1%}" in texts
    long_pred = [t for t in texts if t.startswith("adversarial: a very long") or t.startswith("adversarial: a very")]
    assert long_pred and all("…" in t and t.endswith("%") for t in long_pred)  # cut in the middle, confidence kept


def test_no_text_overlaps_another_or_an_image(attack_run):
    _, pages = attack_run
    for page in pages:
        boxes = [b for _, b in page["texts"]]
        for (ta, a), (tb, b) in itertools.combinations(page["texts"], 2):
            assert not a.overlaps(b), (ta, tb)
        for (t, box), ax in itertools.product(page["texts"], page["axes"]):
            assert not box.overlaps(ax), t
        assert boxes


def test_no_blank_band_between_rows(attack_run):
    paths, _ = attack_run
    for path in paths:
        assert _longest_white_band(path) <= BAND, path


def test_clean_only_maps_form_a_paged_grid(tmp_path):
    paths, pages = _draw(tmp_path, "cam", method="cam on shapes", cols=4, rows_per_page=2, **_inputs(10, False))
    assert [p.name for p in paths] == ["cam.png", "cam_2.png"]  # 8 images on page 1, 2 on page 2
    (h1, w1), (h2, w2) = (matplotlib.image.imread(p).shape[:2] for p in paths)
    assert w1 == w2 and 1.8 < h1 / h2 < 2.1
    texts = [t for page in pages for t, _ in page["texts"]]
    assert "img4.png" in texts and "cam on shapes (page 2/2)" in texts
    assert sum(t.startswith("label: ") for t in texts) == 10
    assert all(_longest_white_band(p) <= BAND for p in paths)
    for page in pages:
        for (ta, a), (tb, b) in itertools.combinations(page["texts"], 2):
            assert not a.overlaps(b), (ta, tb)


@pytest.mark.parametrize("change, message", [
    ({"names": ["a.png", "b.png", "c.png"]}, r"one entry per image \(4\). Received: len\(names\)=3"),
    ({"maps": np.zeros((4, 8, 8))}, r"maps must be \(N, H, W\) = \(4, 24, 24\). Received: maps.shape=\(4, 8, 8\)"),
    ({"x_adv": np.zeros((4, 24, 24, 3))}, r"give all of \[.*\] or none. Received: \['x_adv'\]"),
    ({"rows_per_page": 0}, r"Received: rows_per_page=0"),
    ({"x": np.zeros((4, 24, 24))}, r"Received: x.shape=\(4, 24, 24\)"),
])
def test_bad_arguments_are_rejected_before_drawing(tmp_path, change, message):
    args = {**_inputs(4, attack=False), **change}
    with pytest.raises(ValueError, match=message):
        explanation_figures(tmp_path / "bad.png", **args)
    assert not list(tmp_path.iterdir())
