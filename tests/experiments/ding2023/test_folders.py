"""The Ding scripts on a user's own clean and DAmageNet folders (--set clean_dir=... --set adv_dir=...)."""

import numpy as np
import pytest
from PIL import Image

from keras_advinterp import attacks, runner


@pytest.fixture(scope="module")
def folders(tmp_path_factory, shapes_clf, shapes_correct):
    x, y, _ = shapes_correct
    keep = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(shapes_clf.num_classes)])
    x, y = x[keep], y[keep]
    ids = [f"img{i:02d}" for i in range(len(x))]
    root = tmp_path_factory.mktemp("user")
    clean, adv = root / "val", root / "damagenet"
    x_adv = attacks.PGD(eps=8 / 255, steps=5)(shapes_clf, x, y).x_adv
    for folder, images in ((clean, x), (adv, x_adv)):
        for img, label, i in zip(images, y, ids):
            d = folder / shapes_clf.class_names[label]
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.round(img * 255).astype(np.uint8)).save(d / f"{i}.png")
    return clean, adv


def test_real_damagenet_folder_replaces_the_generated_set(folders, tmp_path):
    clean, adv = folders
    exp = runner.load_experiment("ding2023/table8_masking_damagenet")
    rec = runner.run(exp, quick=True, out_dir=tmp_path, progress=False, clean_dir=str(clean), adv_dir=str(adv))
    assert rec["table"] and rec["settings"]["adv_dir"] == str(adv)
    assert any(str(adv) in n for n in rec["notes"])  # the set's source is the user's folder
    assert any("12 of 12" in n for n in rec["notes"])  # every clean file read and classified correctly


def test_a_missing_adversarial_file_is_named(folders, tmp_path):
    clean, adv = folders
    victim = sorted(adv.rglob("*.png"))[0]
    partial = tmp_path / "partial"
    for f in adv.rglob("*.png"):
        if f != victim:
            (partial / f.relative_to(adv)).parent.mkdir(parents=True, exist_ok=True)
            (partial / f.relative_to(adv)).write_bytes(f.read_bytes())
    exp = runner.load_experiment("ding2023/table8_masking_damagenet")
    with pytest.raises(ValueError, match="lacks 1 file"):
        runner.run(exp, quick=True, out_dir=tmp_path, progress=False, clean_dir=str(clean), adv_dir=str(partial))
