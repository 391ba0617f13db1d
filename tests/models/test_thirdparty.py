"""A real third-party Keras 2.2.4 file: CIFAR-10 ResNet-20 v1 (Dense + separate softmax, list-shaped input).

Not shipped. To run, extract it from github.com/schoyc/blackbox-detection,
commit 5a3f8017aae54295f4f8c0f79cd9eb43c2ae01e0, path
``cifar10_ResNet20v1_model.h5`` (3,591,584 bytes), and set
``KERAS_ADVINTERP_CIFAR_RESNET20=/path/to/it``; skipped otherwise.
"""

import os

import keras
import numpy as np
import pytest

from keras_advinterp import models

PATH = os.environ.get("KERAS_ADVINTERP_CIFAR_RESNET20", "")
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# Keras's CIFAR-10 ResNet example subtracts the training set's pixel mean; its per-channel mean:
MEAN = (0.4914, 0.4822, 0.4465)

pytestmark = pytest.mark.skipif(not os.path.isfile(PATH), reason="set KERAS_ADVINTERP_CIFAR_RESNET20 to the file")


def _photos():
    """scikit-image's chelsea (a cat) and horse (a black silhouette) at 32x32, in [0, 1]."""
    from skimage import data as skdata
    from skimage.transform import resize

    out = []
    for name in ("chelsea", "horse"):
        img = getattr(skdata, name)().astype(np.float32)
        img = np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img[..., :3] / 255.0
        s = min(img.shape[:2])
        top, left = (img.shape[0] - s) // 2, (img.shape[1] - s) // 2
        out.append(resize(img[top : top + s, left : left + s], (32, 32), anti_aliasing=True))
    return np.clip(np.stack(out), 0, 1).astype(np.float32)


def test_thirdparty_resnet20_predicts_like_keras(tmp_path):
    names = tmp_path / "cifar10.txt"
    names.write_text("\n".join(CIFAR10) + "\n")
    clf = models.load_with_options(PATH, preprocess=f"mean={','.join(map(str, MEAN))} std=1", classes=str(names))
    x = _photos()
    reference = keras.models.load_model(PATH, compile=False).predict(x - np.array(MEAN, np.float32), verbose=0)
    p = clf.probabilities(x)
    np.testing.assert_allclose(p, reference, atol=1e-5)
    assert [clf.class_names[i] for i in p.argmax(1)] == ["cat", "horse"]
    assert clf.feature_layer == "activation_19"  # the last 8x8 maps, not the 1x1 average pool
