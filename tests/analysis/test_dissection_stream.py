"""Streaming network dissection over tf.data against the in-memory one (Xu et al., Sec. 5, Eq. 7)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp.analysis import dissection as nd

# The stated tolerance: T_k lies within one histogram bin of the activation np.quantile interpolates up from, so
# an IoU moves only by the pixels whose upsampled activation falls between the two thresholds. Measured on 256
# shapes images, three layers, q 0.995 / 0.95: at most 0.0004 with the default 4096 bins.
IOU_TOL = 0.002


@pytest.fixture(scope="module")
def concept_set(shapes_data):
    masks, names, cats = nd.shapes_concepts(shapes_data)
    return shapes_data.x[:64], masks[:64], names, cats


@pytest.mark.parametrize("layer, quantile", [("block1_out", 0.995), ("features", 0.95)])
def test_stream_iou_matches_the_in_memory_one(shapes_clf, shapes_data, concept_set, layer, quantile):
    x, masks, names, cats = concept_set
    ref = nd.dissect(shapes_clf, layer, x, masks, names, cats, quantile=quantile, batch_size=32)
    sub = nd.shapes_concept_batches(shapes_data, 24).take(3)  # 72 images, batches of 24 ...
    ds = sub.unbatch().take(64).batch(20)  # ... re-cut into 20 + 20 + 20 + 4: batch edges must not matter
    got = nd.dissect_stream(shapes_clf, layer, ds, names, cats, quantile=quantile)
    assert got.iou.shape == ref.iou.shape and got.concepts == names and got.categories == cats
    np.testing.assert_allclose(got.iou, ref.iou, atol=IOU_TOL)
    acts = np.sort(nd.FeatureCapture(shapes_clf, layer)(x)[layer].reshape(-1, ref.iou.shape[0]), axis=0)
    below = acts[int(np.floor(quantile * (len(acts) - 1)))]  # np.quantile interpolates from this value up
    assert (np.abs(got.thresholds - below) <= np.ptp(acts, axis=0) / 4096 * 1.001).all()  # within one bin of it
    # given thresholds, one counting pass gives the in-memory IoU up to float summation order
    exact = nd.dissect_stream(shapes_clf, layer, ds, names, cats, thresholds=ref.thresholds)
    np.testing.assert_allclose(exact.iou, ref.iou, atol=1e-6)


def test_histogram_quantile_on_known_values():
    v = np.concatenate([np.zeros(90), np.linspace(1, 10, 10)])  # a ReLU's point mass at 0, then 1..10
    lo, hi, bins = np.array([0.0]), np.array([10.0]), 1000
    counts = np.histogram(v, bins=bins, range=(0, 10))[0][None]
    at_min = np.array([90])
    for q in (0.5, 0.89, 0.95, 0.99):
        t = nd.histogram_quantile(counts, at_min, lo, hi, q)[0]
        below = np.sort(v)[int(np.floor(q * 99))]
        assert abs(t - below) <= 10 / bins and t <= np.quantile(v, q) + 10 / bins, q
    assert nd.histogram_quantile(counts, at_min, lo, hi, 0.5)[0] == 0.0  # inside the zeros: exactly the minimum


def test_a_list_of_batches_works_and_a_generator_is_refused(shapes_clf, concept_set):
    x, masks, names, cats = concept_set
    batches = [(x[:8], masks[:8]), (x[8:16], masks[8:16])]
    a = nd.dissect_stream(shapes_clf, "features", batches, names, cats, quantile=0.9)
    b = nd.dissect_stream(shapes_clf, "features", tf.data.Dataset.from_tensor_slices((x[:16], masks[:16])).batch(5),
                          names, cats, quantile=0.9)
    np.testing.assert_allclose(a.iou, b.iou, atol=1e-6)
    with pytest.raises(ValueError, match=r"must be re-iterable.*Received: generator"):
        nd.dissect_stream(shapes_clf, "features", (b for b in batches), names, cats)


@pytest.mark.parametrize("kwargs, match", [
    ({"layer": "nope"}, r"valid names.*Received: layers='nope'"),
    ({"quantile": 1.0}, r"quantile must be < 1"),
    ({"bins": 0}, r"bins"),
    ({"thresholds": np.zeros(3)}, r"thresholds must be \(96,\)"),
    ({"concepts": ["a"], "categories": None}, r"concepts must name the 20 masks"),
    ({"categories": ["a"]}, r"one category per concept"),
    ({"batches": []}, r"batches is empty"),
    ({"batches": [(np.zeros((2, 64, 64, 3), np.float32), np.zeros((2, 32, 32, 20), bool))]},
     r"concept masks must be bool \(N, H, W, C\) = \(2, 64, 64, C\)"),
    ({"batches": [(np.full((2, 64, 64, 3), np.nan, np.float32), np.zeros((2, 64, 64, 20), bool))]}, r"images"),
])
def test_bad_input_is_named(shapes_clf, concept_set, kwargs, match):
    x, masks, names, cats = concept_set
    args = {"layer": "features", "batches": [(x[:4], masks[:4])], "concepts": names, "categories": cats, **kwargs}
    with pytest.raises(ValueError, match=match):
        nd.dissect_stream(shapes_clf, args.pop("layer"), args.pop("batches"), args.pop("concepts"), **args)
