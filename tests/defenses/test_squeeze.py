"""Feature squeezing (Xu et al., NDSS 2018): the squeezers against ART / scipy / OpenCV, and the detector.

Figures in the comments: the embedded shapes model, its 96 first test
images (all classified correctly), TensorFlow 2.21 CPU, ART 1.20.1,
scipy 1.17.1, OpenCV 5.1.0.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import attacks, data
from keras_advinterp._compile import cache_key
from keras_advinterp.defenses import (
    BitDepth,
    FeatureSqueezing,
    Median,
    NonLocalMeans,
    NotGraphSafeError,
    get_squeezer,
    roc_auc,
)

TF_ONLY = ("bit_depth_5", "median_2x2")


@pytest.fixture(scope="module")
def random_images():
    """Random RGB and grayscale batches, with odd sizes, plus pixels on or next to every rounding boundary."""
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0, 1, (3, 17, 13, 3)).astype(np.float32)
    gray = rng.uniform(0, 1, (2, 9, 11, 1)).astype(np.float32)
    # Values at (k + 0.5) / 31 and their float32 neighbours: where float32 products round differently.
    edges = np.float32((np.arange(31) + 0.5) / 31)
    near = np.concatenate([np.nextafter(edges, np.float32(0)), edges, np.nextafter(edges, np.float32(1))])
    rgb.reshape(-1)[:near.size] = near
    return {"rgb": rgb, "gray": gray}


@pytest.fixture(scope="module")
def photo():
    """skimage's astronaut (512 x 512) reduced to 48 x 48: a real image, uint8 levels with ties."""
    import cv2
    from skimage import data as skdata

    small = cv2.resize(skdata.astronaut(), (48, 48), interpolation=cv2.INTER_AREA)
    return (small.astype(np.float32) / 255.0)[None]


@pytest.fixture(scope="module")
def fast_det(shapes_clf, shapes_data):
    """Bit depth 5 + median 2x2 (graph-safe), fitted at 5 % FPR on the 96 shapes test images."""
    return FeatureSqueezing(shapes_clf, TF_ONLY).fit(shapes_data.x, fpr=0.05)


@pytest.fixture(scope="module")
def clean_and_fgsm(shapes_clf, shapes_correct):
    x, y, _ = shapes_correct
    x, y = x[:32], y[:32]
    return x, attacks.FGSM(eps=8 / 255)(shapes_clf, x, y).x_adv


# -- the squeezers against their references ------------------------------------------
@pytest.mark.peers
@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5])
def test_bit_depth_equals_art(bits, random_images, photo):
    from art.defences.preprocessor import FeatureSqueezing as ArtSqueezing

    art = ArtSqueezing(clip_values=(0, 1), bit_depth=bits)
    for x in (random_images["rgb"], random_images["gray"], photo):
        want = art(x)[0].astype(np.float32)  # ART computes in float64
        np.testing.assert_array_equal(BitDepth(bits)(x), want)


def test_bit_depth_rounds_the_exact_product(random_images):
    """float64 product (exact for float32 pixels), half to even; a float32 product would miss some boundaries."""
    x = random_images["rgb"]
    for bits in range(1, 9):
        levels = 2 ** bits - 1
        want = (np.rint(x.astype(np.float64) * levels) / levels).astype(np.float32)
        out = BitDepth(bits)(x)
        np.testing.assert_array_equal(out, want)
        assert len(np.unique(out)) <= levels + 1
    naive = np.rint(x * np.float32(31)) / np.float32(31)
    assert np.any(naive != BitDepth(5)(x))  # the boundary pixels in the fixture tell the two apart
    np.testing.assert_array_equal(BitDepth(5)(tf.constant(x)).numpy(), BitDepth(5)(x))


@pytest.mark.peers
@pytest.mark.parametrize("size", [2, 3])
def test_median_equals_art(size, random_images, photo):
    from art.defences.preprocessor import SpatialSmoothing

    art = SpatialSmoothing(window_size=size)
    for x in (random_images["rgb"], random_images["gray"], photo):
        np.testing.assert_array_equal(Median(size)(x), art(x)[0])


@pytest.mark.parametrize("size", [2, 3, 4, 5])
def test_median_equals_scipy(size, random_images, photo):
    from scipy import ndimage

    for x in (random_images["rgb"], random_images["gray"], photo):
        want = ndimage.median_filter(x, size=(1, size, size, 1), mode="reflect")
        np.testing.assert_array_equal(Median(size)(x), want)


def test_median_2x2_window_and_rank_by_hand():
    """scipy's 2x2 window is the pixel with its upper and left neighbours, and it takes the larger middle value."""
    from scipy import ndimage

    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    out = Median(2)(x)[0, ..., 0]
    # Pixel (1, 1): window {0, 1, 4, 5} -> sorted rank 2 -> 4 (not the mean 2.5, nor the lower middle 1).
    assert out[1, 1] == 4.0
    # Row 0 reflects onto itself: (0, 2) sees {1, 2, 1, 2} -> 2.
    assert out[0, 2] == 2.0
    np.testing.assert_array_equal(out, ndimage.median_filter(x, size=(1, 2, 2, 1), mode="reflect")[0, ..., 0])


def test_median_compiles_with_xla_at_any_size(photo):
    fn = tf.function(lambda t: Median(2).tf_call(t), jit_compile=True,
                     input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)])
    np.testing.assert_array_equal(fn(tf.constant(photo)).numpy(), Median(2)(photo))
    np.testing.assert_array_equal(fn(tf.constant(photo[:, :31, :20])).numpy(), Median(2)(photo[:, :31, :20]))


def test_non_local_means_equals_a_direct_cv2_call(random_images, photo):
    import cv2

    nlm = NonLocalMeans(11, 3, 4)
    img = np.rint(photo[0] * 255).astype(np.uint8)
    want = cv2.fastNlMeansDenoisingColored(img, None, 4, 4, 3, 11).astype(np.float32) / 255
    out = nlm(photo)
    np.testing.assert_array_equal(out[0], want)
    assert out.dtype == np.float32 and np.abs(out - photo).max() > 0  # it did change the image
    gray = random_images["gray"]
    img = np.rint(gray[1, ..., 0] * 255).astype(np.uint8)
    want = cv2.fastNlMeansDenoising(img, None, 4, 3, 11).astype(np.float32) / 255
    np.testing.assert_array_equal(nlm(gray)[1, ..., 0], want)
    assert NonLocalMeans(13, 3, 2)(photo).shape == photo.shape


def test_get_squeezer_reads_every_spelling():
    assert get_squeezer("bit_depth_5") == BitDepth(5)
    assert get_squeezer("median_2x2") == get_squeezer("median_filter_2_2") == Median(2)
    assert get_squeezer("Median_3x3") == Median(3)
    nlm = NonLocalMeans(11, 3, 4)
    assert get_squeezer("non_local_means_11_3_4") == get_squeezer("non_local_means_color_11_3_4") == nlm
    assert get_squeezer(nlm) is nlm
    for s in (BitDepth(3), Median(2), nlm, NonLocalMeans(13, 3, 2.5)):
        assert get_squeezer(s.name) == s
    assert [s.graph_safe for s in (BitDepth(5), Median(2), nlm)] == [True, True, False]


# -- the detector ----------------------------------------------------------------------
def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_score_is_the_max_l1_over_squeezers(shapes_clf, clean_and_fgsm):
    """Against squeezers computed with scipy / OpenCV / numpy and separate forward passes."""
    import cv2
    from scipy import ndimage

    x = np.concatenate([clean_and_fgsm[0][:8], clean_and_fgsm[1][:8]])
    det = FeatureSqueezing(shapes_clf)  # bit depth 5, median 2x2, non-local means 11-3-4
    assert not det.graph_safe and det.squeezer_names == ["bit_depth_5", "median_2x2", "non_local_means_11_3_4"]
    u8 = np.rint(x * 255).astype(np.uint8)
    squeezed = [
        (np.rint(x.astype(np.float64) * 31) / 31).astype(np.float32),
        ndimage.median_filter(x, size=(1, 2, 2, 1), mode="reflect"),
        np.stack([cv2.fastNlMeansDenoisingColored(im, None, 4, 4, 3, 11) for im in u8]).astype(np.float32) / 255,
    ]
    logits = shapes_clf.predict(x)
    p = _softmax(logits)
    l1 = np.stack([np.abs(_softmax(shapes_clf.predict(s)) - p).sum(1) for s in squeezed], axis=1)
    np.testing.assert_allclose(det.scores(x), l1.max(1), atol=2e-5)
    parts = det.per_squeezer(x)
    np.testing.assert_array_equal(parts["original_label"], logits.argmax(1))
    for j, name in enumerate(det.squeezer_names):
        np.testing.assert_allclose(parts[name]["l1"], l1[:, j], atol=2e-5)
        np.testing.assert_array_equal(parts[name]["label"], shapes_clf.predict(squeezed[j]).argmax(1))
    np.testing.assert_allclose(parts["score"], l1.max(1), atol=2e-5)


# Measured: threshold 0.0433 flags 4 of the 96 fitting images (4.2 %); on held-out shapes
# validation images it flags 4.3 % of 256 (5.2 % of 1000). Thresholds fit on ten disjoint
# 100-image validation chunks flagged 4.2-11.1 % of the 1200 test images: hence 0.12.
def test_fit_meets_the_target_fpr(fast_det, shapes_data):
    assert fast_det.fit_info["fpr_fit"] <= 0.05
    assert np.mean(fast_det.detect(shapes_data.x)) <= 0.05
    held_out = data.load("shapes", "val", limit=256).x
    assert np.mean(fast_det.detect(held_out)) <= 0.12


# Measured on these 32 images (FGSM 8/255 fools 25 of them, 78 %), default squeezers: ROC-AUC 1.000,
# mean score clean 0.0058, adversarial 1.139 (margin 1.133); the label changes under median 2x2 on
# 19/32 adversarial images (59 %), under non-local means on 10/32, under bit depth 5 on none; no
# squeezer changes the label of a clean image. (On all 96 images: ROC-AUC 0.993, means 0.012 / 1.108.)
def test_fgsm_examples_score_higher_than_clean(shapes_clf, clean_and_fgsm):
    clean, adv = clean_and_fgsm
    det = FeatureSqueezing(shapes_clf)
    on_clean, on_adv = det.per_squeezer(clean), det.per_squeezer(adv)
    s_clean, s_adv = on_clean["score"], on_adv["score"]
    assert roc_auc(s_clean, s_adv) >= 0.97
    assert s_adv.mean() - s_clean.mean() >= 0.9
    # Ye et al.'s Table IV view: how often each squeezer alone changes the predicted label.
    assert np.mean(on_adv["median_2x2"]["label"] != on_adv["original_label"]) >= 0.5
    for name in det.squeezer_names:
        assert np.sum(on_clean[name]["label"] != on_clean["original_label"]) <= 1, name


def test_guarded_model_and_export_give_the_same_scores(fast_det, clean_and_fgsm, tmp_path):
    x = np.concatenate([clean_and_fgsm[0][:6], clean_and_fgsm[1][:6]])
    want = fast_det.scores(x)
    assert fast_det.graph_safe
    model = fast_det.as_model()
    out = model(x)
    np.testing.assert_allclose(out["score"].numpy(), want, atol=1e-5)
    np.testing.assert_array_equal(out["adversarial"].numpy(), want > fast_det.threshold)
    model.export(str(tmp_path / "squeezed"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "squeezed"))  # keep a reference: it owns the variables
    served = loaded.serve(tf.constant(x))
    np.testing.assert_allclose(served["score"].numpy(), want, atol=1e-5)
    np.testing.assert_array_equal(served["adversarial"].numpy(), want > fast_det.threshold)


def test_non_local_means_detector_is_not_graph_safe(shapes_clf):
    det = FeatureSqueezing(shapes_clf, threshold=0.1)
    with pytest.raises(NotGraphSafeError):
        det.as_model()
    with pytest.raises(NotGraphSafeError, match="non_local_means_11_3_4"):
        det.tf_outputs(tf.zeros((1, 8, 8, 3)))


def test_different_squeezers_never_share_a_compiled_function(shapes_clf):
    def key(squeezers):
        return cache_key("detect", FeatureSqueezing(shapes_clf, squeezers), False)

    assert key(["bit_depth_5"]) != key(["bit_depth_4"])
    assert key(["median_2x2"]) != key(["median_3x3"])
    assert key(["non_local_means_11_3_4"]) != key(["non_local_means_13_3_2"])
    assert key(["bit_depth_5", "median_2x2"]) == key([BitDepth(5), "median_filter_2_2"])
    det = FeatureSqueezing(shapes_clf, TF_ONLY, batch_size=8, jit_compile=False)
    assert {"squeezers", "batch_size", "jit_compile"} <= set(det.params())


# -- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("build, match", [
    (lambda: BitDepth(0), "bits=0"),
    (lambda: BitDepth(9), "bits=9"),
    (lambda: BitDepth(2.5), "bits=2.5"),
    (lambda: Median(1), "size=1"),
    (lambda: Median(0), "size=0"),
    (lambda: NonLocalMeans(10, 3, 4), "search_window=10"),
    (lambda: NonLocalMeans(11, 3, 0), "strength=0"),
    (lambda: get_squeezer("bit_depth_9"), "bits=9"),
    (lambda: get_squeezer("median_1x1"), "size=1"),
    (lambda: get_squeezer("median_2x3"), "median_2x3"),
    (lambda: get_squeezer("gaussian_blur_3"), "gaussian_blur_3"),
    (lambda: get_squeezer(5), "squeezer=5"),
])
def test_bad_squeezers_raise(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_detector_settings_raise(shapes_clf):
    with pytest.raises(ValueError, match="empty"):
        FeatureSqueezing(shapes_clf, [])
    with pytest.raises(ValueError, match="bit_depth_not_a_number"):
        FeatureSqueezing(shapes_clf, ["bit_depth_not_a_number"])
    with pytest.raises(ValueError, match="more than once"):
        FeatureSqueezing(shapes_clf, ["median_2x2", "median_filter_2_2"])
    with pytest.raises(ValueError, match="accepted|forms"):
        get_squeezer("unknown")
    with pytest.raises(ValueError, match="1 or 3 channels"):
        NonLocalMeans()(np.zeros((1, 8, 8, 2), np.float32))
    with pytest.raises(ValueError, match="at least 2 pixels"):
        Median(5)(np.zeros((1, 1, 8, 3), np.float32))
