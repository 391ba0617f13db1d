"""The subject-emphasis detector (Ye et al.) and the detector interface it shares."""

import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import attacks, interpret
from keras_advinterp.defenses import (
    DetectionReport,
    NotFittedError,
    SaliencyDetector,
    color_reverse,
    emphasis_image,
    roc_auc,
    theta_sweep,
    threshold_at_fpr,
    zero_mean,
)


@pytest.fixture(scope="module")
def clean_and_adv(shapes_clf, shapes_correct):
    x, y, _ = shapes_correct
    res = attacks.FGSM(eps=8 / 255)(shapes_clf, x, y)
    return x, res.x_adv[res.success]


# -- the image operations -------------------------------------------------------
def test_emphasis_image_is_x_plus_theta_map_clipped(rng):
    x = rng.uniform(0, 1, (2, 5, 6, 3)).astype(np.float32)
    maps = rng.uniform(0, 1, (2, 5, 6)).astype(np.float32)
    want = np.clip(x + 0.3 * maps[..., None], 0, 1)
    np.testing.assert_allclose(emphasis_image(x, maps, 0.3), want, atol=1e-7)
    np.testing.assert_allclose(emphasis_image(tf.constant(x), tf.constant(maps), 0.3).numpy(), want, atol=1e-7)
    assert emphasis_image(x, maps, 0.3).max() <= 1.0 and np.any(x + 0.3 * maps[..., None] > 1)


def test_color_reverse_swaps_red_and_blue(rng):
    x = rng.uniform(0, 1, (2, 4, 4, 3)).astype(np.float32)
    out = color_reverse(x)
    np.testing.assert_array_equal(out[..., 0], x[..., 2])
    np.testing.assert_array_equal(out[..., 1], x[..., 1])
    np.testing.assert_array_equal(out[..., 2], x[..., 0])
    np.testing.assert_array_equal(color_reverse(tf.constant(x)).numpy(), out)


def test_zero_mean_gives_each_image_channel_the_center_as_mean(rng):
    x = rng.uniform(0, 1, (3, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(zero_mean(x, 0.0).mean(axis=(1, 2)), 0.0, atol=1e-6)
    np.testing.assert_allclose(zero_mean(tf.constant(x), 0.0).numpy().mean(axis=(1, 2)), 0.0, atol=1e-6)
    per_channel = zero_mean(x, (0.485, 0.456, 0.406)).mean(axis=(1, 2))
    np.testing.assert_allclose(per_channel, np.tile([0.485, 0.456, 0.406], (3, 1)), atol=1e-6)
    # the contrast is kept: differences between pixels are unchanged
    np.testing.assert_allclose(np.diff(zero_mean(x, 0.5), axis=1), np.diff(x, axis=1), atol=1e-6)


# -- the detector --------------------------------------------------------------
def test_explain_builds_the_emphasis_image_from_the_gradcam_map_of_the_predicted_class(shapes_clf, shapes_correct):
    x = shapes_correct[0][:8]
    det = SaliencyDetector(shapes_clf, theta=0.25)
    parts = det.explain(x)
    pred = shapes_clf.predict(x).argmax(1)
    np.testing.assert_array_equal(parts["label"], pred)
    maps = interpret.GradCAMXLA(shapes_clf)(x, pred)
    np.testing.assert_allclose(parts["maps"], maps, atol=1e-4)
    np.testing.assert_allclose(parts["emphasis"], emphasis_image(x, parts["maps"], 0.25), atol=1e-6)
    np.testing.assert_array_equal(parts["enhanced"], parts["emphasis"])  # enhance="none"
    np.testing.assert_array_equal(parts["label_emphasis"], shapes_clf.predict(parts["emphasis"]).argmax(1))
    # the score is > 0 exactly where the label changed (the paper's rule at the default threshold 0)
    np.testing.assert_array_equal(parts["score"] > 0, parts["label_emphasis"] != parts["label"])
    np.testing.assert_allclose(det.scores(x), parts["score"], atol=1e-6)


def test_enhancements_are_applied_to_the_emphasis_image(shapes_clf, shapes_correct):
    x = shapes_correct[0][:4]
    parts = SaliencyDetector(shapes_clf, theta=0.2, enhance="both").explain(x)
    np.testing.assert_allclose(parts["enhanced"], zero_mean(color_reverse(parts["emphasis"]), 0.5), atol=1e-6)


def test_theta_zero_without_enhancement_flags_nothing(shapes_clf, clean_and_adv):
    x, x_adv = clean_and_adv
    det = SaliencyDetector(shapes_clf, theta=0.0)
    assert not det.detect(x).any() and not det.detect(x_adv).any()


def test_flags_most_fgsm_examples_and_few_clean_ones(shapes_clf, clean_and_adv):
    # Measured on this fixture (shapes test images the model gets right, FGSM 8/255 successes):
    # colour reversing at theta 0.1 flags 96% of the adversarial and 0% of the clean inputs;
    # plain emphasis at theta 0.3 flags ~58% and ~10%.
    x, x_adv = clean_and_adv
    assert len(x_adv) >= 40
    rep = SaliencyDetector(shapes_clf, theta=0.1, enhance="color_reverse").evaluate(x, x_adv)
    assert isinstance(rep, DetectionReport)
    assert rep.detection_rate >= 0.85 and rep.false_positive_rate <= 0.05 and rep.roc_auc >= 0.95
    plain = SaliencyDetector(shapes_clf, theta=0.3).evaluate(x, x_adv)
    assert plain.detection_rate >= 0.4 and plain.false_positive_rate <= 0.2


def test_fit_meets_its_false_positive_target_on_held_out_clean_data(shapes_clf, shapes_data):
    det = SaliencyDetector(shapes_clf, theta=0.3, threshold=None)
    with pytest.raises(NotFittedError, match="fit"):
        det.detect(shapes_data.x[:2])
    x = shapes_data.x
    half = len(x) // 2
    det.fit(x[:half], fpr=0.1)
    assert det.fit_info["fpr_fit"] <= 0.1
    held_out = float(np.mean(det.detect(x[half:])))
    assert held_out <= 0.1 + 0.1  # 48 held-out images: measured 0.06-0.1


def test_sweep_scores_match_one_detector_per_theta(shapes_clf, clean_and_adv):
    x = clean_and_adv[1][:12]
    thetas = (0.0, 0.2, 0.5)
    swept = SaliencyDetector(shapes_clf, enhance="zero_mean").sweep_scores(x, thetas)
    for j, th in enumerate(thetas):
        np.testing.assert_allclose(swept[:, j], SaliencyDetector(shapes_clf, theta=th, enhance="zero_mean").scores(x),
                                   atol=1e-5)


def test_theta_sweep_trades_clean_pass_rate_for_detection(shapes_clf, clean_and_adv):
    x, x_adv = clean_and_adv
    rows = theta_sweep(shapes_clf, x, x_adv, thetas=(0.0, 0.2, 0.5))
    assert [r["theta"] for r in rows] == [0.0, 0.2, 0.5]
    assert rows[0]["clean_pass_rate"] == 1.0 and rows[0]["detection_rate"] == 0.0
    assert rows[2]["detection_rate"] > rows[1]["detection_rate"] > rows[0]["detection_rate"]
    assert rows[2]["clean_pass_rate"] < rows[0]["clean_pass_rate"]


@pytest.mark.parametrize("interpreter", ["cam", "grad"])
def test_other_interpreters_give_scores(shapes_clf, clean_and_adv, interpreter):
    x = clean_and_adv[0][:6]
    det = SaliencyDetector(shapes_clf, theta=0.2, interpreter=interpreter)
    s = det.scores(x)
    assert s.shape == (6,) and np.all(np.isfinite(s)) and np.all(s >= -1) and np.all(s <= 1)
    assert repr(det).startswith("SaliencyDetector(clf='shapes'")


def test_cam_twin_maps_and_logits_share_the_forward_pass(shapes_clf, shapes_correct):
    x = tf.constant(shapes_correct[0][:4])
    cam = interpret.CAM(shapes_clf)
    maps, logits = cam.maps_and_logits(x)
    pred = tf.argmax(logits, axis=-1)
    np.testing.assert_allclose(logits.numpy(), shapes_clf.predict(x.numpy()), atol=1e-4)
    np.testing.assert_allclose(maps.numpy(), cam.maps(x, pred).numpy(), atol=1e-6)


def test_exported_guarded_model_gives_the_same_verdicts(shapes_clf, clean_and_adv, tmp_path):
    x = np.concatenate([clean_and_adv[0][:4], clean_and_adv[1][:4]])
    det = SaliencyDetector(shapes_clf, theta=0.1, enhance="color_reverse")
    model = det.as_model()
    out = model(x)
    np.testing.assert_allclose(out["score"].numpy(), det.scores(x), atol=1e-5)
    np.testing.assert_array_equal(out["adversarial"].numpy(), det.detect(x))
    np.testing.assert_allclose(out["logits"].numpy(), shapes_clf.predict(x), atol=1e-4)
    model.export(str(tmp_path / "guarded"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "guarded"))  # keep a reference: it owns the variables
    served = loaded.serve(tf.constant(x))
    np.testing.assert_array_equal(served["adversarial"].numpy(), det.detect(x))
    np.testing.assert_allclose(served["probabilities"].numpy().sum(1), 1.0, atol=1e-5)


# -- the threshold helpers ---------------------------------------------------------
def test_threshold_at_fpr_flags_at_most_the_target_fraction():
    s = np.arange(100, dtype=float)
    t = threshold_at_fpr(s, 0.05)
    assert np.sum(s > t) == 5
    assert np.sum(s > threshold_at_fpr(s, 0.0)) == 0
    assert threshold_at_fpr(s, 1.0) == -np.inf
    assert np.sum(s > threshold_at_fpr(s, 0.123)) == 12
    assert roc_auc([0, 1, 2], [3, 4]) == 1.0 and roc_auc([3, 4], [0, 1]) == 0.0 and roc_auc([], [1]) is None


# -- bad input ----------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"theta": -0.1}, "theta"),
    ({"theta": 1.5}, "theta"),
    ({"enhance": "sepia"}, "enhance"),
    ({"interpreter": "scorecam"}, "interpreter"),
    ({"center": (0.5, 0.5)}, "center"),
    ({"threshold": float("nan")}, "threshold"),
])
def test_bad_settings_fail_before_any_work(shapes_clf, kwargs, match):
    with pytest.raises(ValueError, match=match):
        SaliencyDetector(shapes_clf, **kwargs)


def test_bad_inputs_fail_clearly(shapes_clf, digits_clf, shapes_data):
    with pytest.raises(ValueError, match="channel"):
        SaliencyDetector(digits_clf, enhance="color_reverse")
    det = SaliencyDetector(shapes_clf)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        det.scores(shapes_data.x[:2] * 255)
    with pytest.raises(ValueError, match="fpr"):
        det.fit(shapes_data.x[:4], fpr=1.5)
    with pytest.raises(ValueError, match="theta"):
        det.sweep_scores(shapes_data.x[:2], [0.1, -1])


def test_zero_mean_centre_is_the_pixel_the_model_maps_to_zero(shapes_clf, digits_clf):
    from keras_advinterp import models
    from keras_advinterp.defenses import neutral_pixel

    assert neutral_pixel(shapes_clf) == pytest.approx(0.5)  # Rescaling(2, -1)
    assert neutral_pixel(digits_clf) == pytest.approx(0.5)
    caffe = neutral_pixel(models.load("resnet50", weights=None))  # x255, RGB->BGR, minus the ImageNet mean (BGR)
    np.testing.assert_allclose(caffe, (123.68 / 255, 116.779 / 255, 103.939 / 255), atol=1e-5)
    import keras

    tiny = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(3)])
    mean_std = models.from_keras(tiny, preprocess="mean=0.2,0.3,0.4 std=0.5,0.5,0.5", name="ms")
    np.testing.assert_allclose(neutral_pixel(mean_std), (0.2, 0.3, 0.4), atol=1e-5)
    assert SaliencyDetector(shapes_clf, enhance="zero_mean").center == pytest.approx(0.5)
    assert SaliencyDetector(shapes_clf, enhance="zero_mean", center=0.25).center == 0.25


def test_plot_theta_sweep_draws_a_png(shapes_clf, clean_and_adv, tmp_path):
    from keras_advinterp.defenses import plot_theta_sweep

    rows = theta_sweep(shapes_clf, clean_and_adv[0][:8], clean_and_adv[1][:8], thetas=(0.0, 0.3))
    plot_theta_sweep(rows, tmp_path / "sweep.png", title="shapes", paper={"paper FGSM": ([0.0, 0.3], [0.0, 0.5])})
    assert (tmp_path / "sweep.png").stat().st_size > 5000
