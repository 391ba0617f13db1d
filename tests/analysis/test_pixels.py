import numpy as np
import pytest

from keras_advinterp.analysis import cam_region, pick_pixels, pixel_change, pixel_histograms, set_pixels, top1


def _maps(n=3, h=16, w=16, seed=0):
    return np.random.default_rng(seed).random((n, h, w)).astype(np.float32)


def test_cam_region_is_the_top_share_of_each_map():
    maps = _maps()
    masks = cam_region(maps, top=0.2)
    assert masks.dtype == bool and masks.shape == maps.shape
    k = round(0.2 * 16 * 16)
    assert (masks.reshape(3, -1).sum(1) == k).all()
    for m, r in zip(maps, masks):
        assert m[r].min() >= m[~r].max()  # every region pixel outranks every other one
    flat = cam_region(np.zeros((1, 4, 5)), top=0.5)  # ties: still the stated size
    assert flat.sum() == 10
    with pytest.raises(ValueError, match="top"):
        cam_region(maps, top=0)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        cam_region(maps[0])


def test_pixels_are_picked_only_inside_the_region_and_reproducibly():
    masks = cam_region(_maps(n=4), top=0.3)
    pos = pick_pixels(masks, 40, seed=1)
    assert pos.shape == (4, 40, 2)
    for i in range(4):
        assert masks[i][pos[i, :, 0], pos[i, :, 1]].all()
        assert len({tuple(p) for p in pos[i]}) == 40  # distinct
    np.testing.assert_array_equal(pos, pick_pixels(masks, 40, seed=1))
    assert not np.array_equal(pos, pick_pixels(masks, 40, seed=2))
    # one seed per image: an image's pixels do not depend on its batch
    per_image = pick_pixels(masks, 40, seed=[(0, i) for i in range(4)])
    np.testing.assert_array_equal(per_image[2:], pick_pixels(masks[2:], 40, seed=[(0, 2), (0, 3)]))


def test_a_region_smaller_than_n_pixels_is_an_error():
    masks = cam_region(_maps(n=2, h=8, w=8), top=0.25)  # 16 pixels each
    pick_pixels(masks, 16)  # the whole region is fine
    with pytest.raises(ValueError, match="larger than the region"):
        pick_pixels(masks, 17)
    with pytest.raises(ValueError, match="n_pixels"):
        pick_pixels(masks, 0)


def test_set_pixels_writes_exactly_value_over_255_and_nothing_else():
    rng = np.random.default_rng(0)
    x = rng.random((2, 8, 8, 3)).astype(np.float32)
    masks = cam_region(_maps(n=2, h=8, w=8), top=0.5)
    pos = pick_pixels(masks, 5)
    x_copy = x.copy()
    out = set_pixels(x, pos, (0, 127, 200, 255))
    assert out.shape == (4, 2, 8, 8, 3) and out.dtype == x.dtype
    for j, v in enumerate((0, 127, 200, 255)):
        for i in range(2):
            hit = np.zeros((8, 8), bool)
            hit[pos[i, :, 0], pos[i, :, 1]] = True
            assert (out[j, i][hit] == np.float32(v / 255)).all()  # all channels
            np.testing.assert_array_equal(out[j, i][~hit], x[i][~hit])
    np.testing.assert_array_equal(x, x_copy)  # the input is left alone
    for bad in ((256,), (-1,), (12.5,)):
        with pytest.raises(ValueError, match="0..255"):
            set_pixels(x, pos, bad)
    with pytest.raises(ValueError, match="positions"):
        set_pixels(x, pos[:1], (0,))


def test_pixel_change_uses_the_same_positions_for_clean_and_adversarial(shapes_clf, shapes_data):
    x = shapes_data.x[:3]
    x_adv = np.clip(x + 0.03, 0, 1)
    maps = _maps(n=3, h=64, w=64)
    res = pixel_change(shapes_clf, x, maps, values=(0, 255), n_pixels=50, seed=3, x_other=x_adv)
    assert res.images.shape == res.images_other.shape == (2, 3, 64, 64, 3)
    for j in range(2):
        changed = np.any(res.images[j] != x, axis=-1)
        changed_adv = np.any(res.images_other[j] != x_adv, axis=-1)
        for i in range(3):
            hit = np.zeros((64, 64), bool)
            hit[res.positions[i, :, 0], res.positions[i, :, 1]] = True
            assert not (changed[i] & ~hit).any() and not (changed_adv[i] & ~hit).any()
            assert (res.images[j, i][hit] == res.images_other[j, i][hit]).all()
        rows, cols = res.positions[..., 0].ravel(), res.positions[..., 1].ravel()
        assert res.masks[np.repeat(np.arange(3), 50), rows, cols].all()
    # the one batched prediction matches predicting each group alone
    for j in range(2):
        ref = top1(shapes_clf, res.images_other[j])
        np.testing.assert_array_equal(res.after_other[j].label, ref.label)
        np.testing.assert_allclose(res.after_other[j].confidence, ref.confidence, atol=1e-5)
    np.testing.assert_array_equal(res.before.label, top1(shapes_clf, x).label)
    # positions can be reused; no classifier only edits
    again = pixel_change(None, x_adv, maps, values=(0, 255), positions=res.positions)
    np.testing.assert_array_equal(again.images, res.images_other)
    assert again.before is None
    with pytest.raises(ValueError, match="maps_or_masks"):
        pixel_change(None, x, maps[:2])
    with pytest.raises(ValueError, match="x_other"):
        pixel_change(None, x, maps, x_other=x_adv[:2])


def test_pixel_histograms_count_every_8bit_value():
    x = np.arange(256, dtype=np.float32).reshape(1, 16, 16, 1) / 255
    counts, edges = pixel_histograms(np.concatenate([x, x], -1))
    assert counts.shape == (1, 2, 256) and (counts == 1).all()
    assert edges[0] == 0 and edges[-1] == 256
    coarse, _ = pixel_histograms(x, bins=4)
    np.testing.assert_array_equal(coarse[0, 0], [64, 64, 64, 64])
    with pytest.raises(ValueError, match="bins"):
        pixel_histograms(x, bins=0)
