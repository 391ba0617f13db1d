"""map_batches: padded bucket sizes, outputs trimmed back, no retracing across small counts."""

import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import attacks
from keras_advinterp._batching import bucket_size, map_batches
from keras_advinterp._compile import tracing_count


@pytest.mark.parametrize("n, batch_size, size", [
    (1, 32, 1), (2, 32, 2), (5, 32, 8), (8, 32, 8), (20, 32, 32), (23, 32, 32), (32, 32, 32), (100, 32, 32),
    (5, 6, 6), (12, 12, 12), (3, 12, 4), (7, 5, 5),
])
def test_bucket_size(n, batch_size, size):
    assert bucket_size(n, batch_size) == size


def test_outputs_trimmed_and_shapes_bucketed():
    seen = []

    def fn(a, b):
        seen.append(len(a))
        return {"sum": a + b, "first": a[:, 0]}

    a = np.arange(46, dtype=np.float32).reshape(23, 2)
    out = map_batches(fn, [a, a], 8)
    assert seen == [8, 8, 8]  # 8 + 8 + 7 padded to 8
    np.testing.assert_array_equal(out["sum"], 2 * a)
    np.testing.assert_array_equal(out["first"], a[:, 0])
    seen.clear()
    map_batches(fn, [a[:5], a[:5]], 32)
    assert seen == [8]


def test_two_small_counts_share_one_trace():
    fn = tf.function(lambda a: tf.reduce_sum(a, axis=1))
    x = np.ones((23, 4), np.float32)
    np.testing.assert_array_equal(map_batches(fn, [x[:20]], 32), np.full(20, 4.0))
    traces = tracing_count(fn)
    np.testing.assert_array_equal(map_batches(fn, [x], 32), np.full(23, 4.0))
    assert tracing_count(fn) == traces == 1


def test_attack_on_20_then_23_images_does_not_retrace(digits_clf, digits_data):
    x, y = digits_data.x[:23], digits_data.y[:23]
    attack = attacks.PGD(eps=0.1, steps=2)
    a = attack(digits_clf, x[:20], y[:20])  # batch_size 32: both counts run as one 32-image program
    key = [k for k in digits_clf._compiled if k[0] == "attack" and dict(k[2]).get("steps") == 2][0]
    traces = tracing_count(digits_clf._compiled[key])
    b = attack(digits_clf, x, y)
    assert tracing_count(digits_clf._compiled[key]) == traces > 0
    assert len(b.x_adv) == 23 and len(a.x_adv) == 20
    np.testing.assert_array_equal(a.x_adv, b.x_adv[:20])  # the padded rows never change the real ones


def test_one_batch_is_returned_without_a_copy_but_never_as_an_alias_of_the_input():
    from keras_advinterp._batching import map_batches

    x = np.arange(8, dtype=np.float32).reshape(8, 1)
    same = map_batches(lambda a: a, [x], 8)  # fn hands back its input: the result must still be a copy
    assert not np.may_share_memory(same, x)
    same[0] = -1
    assert x[0, 0] == 0
    out = map_batches(lambda a: {"y": a * 2, "z": (a + 1)}, [x], 8)
    np.testing.assert_array_equal(out["y"], x * 2)
    np.testing.assert_array_equal(map_batches(lambda a: a * 3, [x], 3), x * 3)  # several batches
