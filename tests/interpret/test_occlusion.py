"""Occlusion maps: equal to a per-patch Keras reference, by windows or whole; right where the evidence is."""

import keras
import numpy as np
import pytest
from scipy.special import softmax

from keras_advinterp import interpret
from keras_advinterp.interpret.occlusion import Occlusion, patch_grid
from keras_advinterp.models import Classifier
from keras_advinterp.surgery import incremental


def reference_drops(clf, x, y, boxes, cover, score):
    """The score drop of every patch, one covered copy at a time through ``predict``."""
    out = np.zeros((len(x), len(boxes)))
    for i in range(len(x)):
        copies = np.repeat(x[i][None], len(boxes) + 1, axis=0)
        for j, (y0, y1, x0, x1) in enumerate(boxes):
            copies[j + 1, y0:y1, x0:x1] = cover(x[i])[y0:y1, x0:x1]
        z = clf.predict(copies)
        s = (softmax(z, -1) if score == "probability" else z)[:, y[i]]
        out[i] = s[0] - s[1:]
    return out


@pytest.mark.parametrize("method, score, baseline", [("incremental", "probability", "mean"),
                                                     ("full", "logit", 0.5)])
def test_drops_and_maps_equal_a_per_patch_reference(shapes_clf, shapes_correct, method, score, baseline):
    x, y = shapes_correct[0][:3], shapes_correct[1][:3]
    occ = Occlusion(shapes_clf, patch=16, stride=12, baseline=baseline, score=score, method=method, chunk=8)
    assert occ.how(x.shape[1:]).startswith(method)
    boxes = occ.boxes(64, 64)
    assert len(boxes) == 25 and boxes[-1].tolist() == [48, 64, 48, 64]  # the last patch flush with the edge
    cover = (lambda img: np.broadcast_to(img.mean((0, 1)), img.shape)) if baseline == "mean" else \
        (lambda img: np.full_like(img, baseline))
    ref = reference_drops(shapes_clf, x, y, boxes, cover, score)
    drops = occ.drops(x, y)
    assert drops.shape == (3, 5, 5)
    np.testing.assert_allclose(drops.reshape(3, -1), ref, atol=1e-4 if score == "logit" else 1e-5)
    # the map: each pixel's mean drop over its patches, floored at 0, min-max per image
    maps = occ(x, y)
    total, count = np.zeros((3, 64, 64)), np.zeros((64, 64))
    for j, (y0, y1, x0, x1) in enumerate(boxes):
        total[:, y0:y1, x0:x1] += ref[:, j, None, None]
        count[y0:y1, x0:x1] += 1
    want = interpret.normalize_maps(np.maximum(total / count, 0))
    np.testing.assert_allclose(maps, want, atol=1e-3)


@pytest.mark.peers
def test_drops_equal_tf_explain_occlusion_sensitivity(shapes_clf, shapes_correct):
    """tf-explain 0.3.1: non-overlapping grey (127.5 of 255) patches, map 1 - probability per patch."""
    tfx = pytest.importorskip("tf_explain.core.occlusion_sensitivity")
    x, y = shapes_correct[0][:2], shapes_correct[1][:2]
    inp = keras.Input((64, 64, 3))
    model255 = keras.Model(inp, keras.layers.Softmax()(shapes_clf.model(keras.layers.Rescaling(1 / 255)(inp))))
    p_clean = softmax(shapes_clf.predict(x), -1)[np.arange(2), y]
    drops = Occlusion(shapes_clf, patch=16, stride=16, baseline=0.5).drops(x, y)
    for i in range(2):
        grid = tfx.OcclusionSensitivity(batch_size=16).get_sensitivity_map(model255, x[i] * 255, int(y[i]), 16)
        # its map is the 4 x 4 grid resized to 64 x 64 by cv2: the same resize of ours
        ours = tfx.cv2.resize(drops[i] + 1 - p_clean[i], (64, 64))
        np.testing.assert_allclose(ours, grid, atol=1e-5)


def test_incremental_and_full_give_the_same_maps(shapes_clf, shapes_correct):
    x, y = shapes_correct[0][:4], shapes_correct[1][:4]
    fast = interpret.get("occlusion", shapes_clf, patch=8, stride=4)
    assert fast.how(x.shape[1:]).startswith("incremental")  # auto: 75% of the multiply-adds left out here
    np.testing.assert_allclose(fast(x, y), Occlusion(shapes_clf, patch=8, stride=4, method="full")(x, y),
                               atol=1e-4)


def test_occlusion_finds_and_localises_the_evidence_on_shapes(shapes_clf, shapes_correct):
    """Measured on these 32 images (default patch 8, stride 4, mean baseline): p(class) after blurring the
    top-20% region 0.30 (centred blob 0.80, random 0.99; RTS 0.28, Grad-CAM 0.32), top-20% IoU with the
    object mask 0.397 (blob 0.239, Grad-CAM 0.341), the peak on the object in 32 of 32."""
    from keras_advinterp.interpret import metrics
    from keras_advinterp.interpret.perturbation import gaussian_blur

    x, y, masks = (a[:32] for a in shapes_correct)
    maps = Occlusion(shapes_clf)(x, y)
    top = metrics.top_region(maps, 0.2)[..., None]
    deleted = np.where(top, gaussian_blur(x, 3.2).numpy(), x)
    p = float(shapes_clf.probabilities(deleted)[np.arange(len(y)), y].mean())
    yy, xx = np.mgrid[0:64, 0:64]
    blob = np.broadcast_to(-np.hypot(yy - 31.5, xx - 31.5), maps.shape)
    blob_top = metrics.top_region(blob, 0.2)[..., None]
    p_blob = float(shapes_clf.probabilities(np.where(blob_top, gaussian_blur(x, 3.2).numpy(), x))[
        np.arange(len(y)), y].mean())
    assert p < p_blob - 0.3, (p, p_blob)
    assert metrics.mask_iou(maps, masks).mean() > metrics.mask_iou(blob, masks).mean() + 0.1
    peak = maps.reshape(len(maps), -1).argmax(1)
    assert masks.reshape(len(masks), -1)[np.arange(len(masks)), peak].mean() >= 0.85


def quadrant_classifier() -> Classifier:
    """Class 0's logit is the mean of the top-left 8 x 8 pixels; class 1's is its negative."""
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Cropping2D(((0, 8), (0, 8)))(inp)
    dense = keras.layers.Dense(2)
    out = dense(keras.layers.GlobalAveragePooling2D()(x))
    dense.set_weights([np.array([[1, -1]] * 3, np.float32) / 3, np.zeros(2, np.float32)])
    return Classifier(keras.Model(inp, out), class_names=None, input_size=(16, 16), feature_layer=None,
                      name="quadrant", weights_source="constructed")


def test_the_map_lights_up_where_the_evidence_is():
    clf = quadrant_classifier()
    x = np.ones((1, 16, 16, 3), np.float32)
    maps = Occlusion(clf, patch=4, stride=4, baseline=0.0, score="logit")(x, 0)[0]
    assert maps[:8, :8].min() == pytest.approx(1.0, abs=1e-5)  # every patch there lowers class 0 alike
    assert maps[8:].max() == 0 and maps[:, 8:].max() == 0
    # class 1 gains where class 0 loses: no evidence for it anywhere, an all-zero map
    assert Occlusion(clf, patch=4, stride=4, baseline=0.0, score="logit")(x, 1).max() == 0


def test_patch_grid_covers_every_pixel():
    for h, w, patch, stride in [(10, 7, (3, 3), (2, 3)), (5, 5, (5, 5), (1, 1)), (9, 4, (2, 4), (2, 1))]:
        boxes = patch_grid(h, w, patch, stride)
        cover = np.zeros((h, w), int)
        for y0, y1, x0, x1 in boxes:
            assert (y1 - y0, x1 - x0) == patch and 0 <= y0 and y1 <= h and 0 <= x0 and x1 <= w
            cover[y0:y1, x0:x1] += 1
        assert cover.min() >= 1


@pytest.mark.parametrize("kwargs, match", [
    ({"patch": 0}, r"patch must be"),
    ({"patch": (4, 4, 4)}, r"patch must be an int or \(height, width\)"),
    ({"stride": -2}, r"stride must be"),
    ({"baseline": 2.0}, r"baseline must be 'mean' or a pixel value in \[0, 1\]. Received: baseline=2.0"),
    ({"baseline": "blur"}, r"baseline must be one of \('mean',\)"),
    ({"score": "prob"}, r"score must be one of \('probability', 'logit'\)"),
    ({"method": "fast"}, r"method must be one of"),
    ({"max_fraction": 0}, r"max_fraction must be in \(0, 1\]"),
])
def test_bad_settings_fail_before_any_work(shapes_clf, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Occlusion(shapes_clf, **kwargs)


def test_a_patch_larger_than_the_image_or_the_stride_is_named(shapes_clf, shapes_correct):
    with pytest.raises(ValueError, match=r"patch \(80, 80\) is larger than the 64 x 64 images"):
        Occlusion(shapes_clf, patch=80)(shapes_correct[0][:1], 0)
    with pytest.raises(ValueError, match=r"stride \(8, 8\) is larger than patch \(4, 4\): pixels between"):
        Occlusion(shapes_clf, patch=4, stride=8)(shapes_correct[0][:1], 0)


def test_a_model_the_window_rules_cannot_run_takes_the_plain_forward(monkeypatch):
    clf = quadrant_classifier()

    def cannot(*args, **kwargs):
        raise TypeError("a layer the windows cannot pass")

    monkeypatch.setattr(incremental, "IncrementalForward", cannot)
    x = np.random.default_rng(0).uniform(0, 1, (2, 16, 16, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"incremental inference cannot run model 'quadrant' \(TypeError"):
        maps = Occlusion(clf, patch=4)(x, 0)
    np.testing.assert_allclose(maps, Occlusion(clf, patch=4, method="full")(x, 0), atol=1e-5)
    with pytest.raises(ValueError, match=r"method='incremental' cannot run model 'quadrant'.*Use method='full'"):
        Occlusion(clf, patch=4, method="incremental")(x, 0)
