"""The bfloat16 copy (surgery.MixedPrecision) and PGD's ``precision`` setting."""

import numpy as np
import pytest

from keras_advinterp import attacks, surgery
from keras_advinterp.models.layers import PixelPreprocessing, ResizeTo


@pytest.fixture(scope="module")
def bf16(shapes_clf):
    return surgery.modify(shapes_clf, surgery.MixedPrecision())


def test_copy_computes_in_bfloat16_with_float32_inputs_and_output(shapes_clf, bf16, shapes_correct):
    x = shapes_correct[0][:32]
    ref, low = shapes_clf.model(x).numpy(), bf16.model(x).numpy()
    assert low.dtype == np.float32
    policies = {layer.name: layer.dtype_policy.name for layer in bf16.model.layers}
    kinds = {layer.name: layer for layer in bf16.model.layers}
    convs = surgery.conv_layers(bf16)
    assert convs and all(policies[n] == "mixed_bfloat16" for n in convs)
    assert all(policies[n] == "float32" for n, layer in kinds.items() if isinstance(layer, (ResizeTo,
                                                                                          PixelPreprocessing)))
    # close, not equal: bfloat16 keeps 8 significant bits
    assert 0 < np.abs(low - ref).max() < 0.02 * np.abs(ref).max()
    assert (low.argmax(1) == ref.argmax(1)).mean() >= 0.95
    # the original is untouched, weights are copies
    assert shapes_clf.model.layers[3].dtype_policy.name == "float32"
    np.testing.assert_array_equal(shapes_clf.model(x).numpy(), ref)


def test_pgd_in_bfloat16_matches_float32_success_within_the_ball(shapes_clf, shapes_correct, in_budget):
    x, y, _ = shapes_correct
    x, y = x[:48], y[:48]
    full = attacks.PGD(eps=4 / 255, steps=10)(shapes_clf, x, y)
    low = attacks.PGD(eps=4 / 255, steps=10, precision="bfloat16")(shapes_clf, x, y)
    in_budget(low.x_adv, x, "linf", 4 / 255)
    assert abs(low.success_rate - full.success_rate) <= 0.1, (low.summary(), full.summary())
    assert low.success_rate >= 0.4  # measured 0.56 for both on 64 test images
    # success is judged by the float32 model, not the copy
    np.testing.assert_array_equal(low.predictions, shapes_clf.predict(low.x_adv).argmax(1))
    assert low.params["precision"] == "bfloat16" and not np.array_equal(low.x_adv, full.x_adv)


def test_bad_precision_settings_are_named(shapes_clf):
    with pytest.raises(ValueError, match=r"precision must be one of \('float32', 'bfloat16'\). "
                                         r"Received: precision='float16'"):
        attacks.PGD(precision="float16")
    with pytest.raises(ValueError, match=r"works with the 'ce' and 'margin' objectives only"):
        attacks.PGD(precision="bfloat16", objective=lambda clf, x, y, ctx: x[:, 0, 0, 0])
    with pytest.raises(ValueError, match=r"MixedPrecision takes a lower precision"):
        surgery.MixedPrecision("float32")
    assert attacks.PGD(precision="bfloat16", objective="margin").precision == "bfloat16"
