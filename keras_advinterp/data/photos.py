"""The natural photos that ship with scikit-image, as a tiny ImageNet sample.

Labels are ImageNet class indices (see ``models.imagenet_class_names``).
Use them with ImageNet-weighted models where those weights are present.
"""

from __future__ import annotations

import numpy as np

# scikit-image name -> ImageNet index (class name in the comment).
PHOTOS = {
    "chelsea": 281,  # tabby, tabby cat
    "coffee": 967,  # espresso
    "rocket": 657,  # missile
}


def generate(size: int = 224):
    """(x, y, names): x (3, size, size, 3) float32 in [0, 1], centre-cropped."""
    from skimage import data as skdata
    from skimage.transform import resize

    images = []
    for name in PHOTOS:
        img = getattr(skdata, name)()
        h, w = img.shape[:2]
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        crop = img[top : top + s, left : left + s].astype(np.float32) / 255.0
        images.append(resize(crop, (size, size), anti_aliasing=True).astype(np.float32))
    x = np.clip(np.stack(images), 0.0, 1.0)
    y = np.asarray(list(PHOTOS.values()), np.int32)
    return x, y, list(PHOTOS)
