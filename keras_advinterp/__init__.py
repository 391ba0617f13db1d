"""keras-advinterp: adversarial attacks and interpretation methods on Keras 3.

Everything takes a ``Classifier`` (raw pixels in [0, 1] -> logits):

    from keras_advinterp import models, data, attacks, interpret
    clf = models.load("shapes")
    x, y = data.load("shapes", limit=8)
    result = attacks.PGD(eps=8 / 255)(clf, x, y)
    maps = interpret.GradCAM(clf)(result.x_adv, y)
"""

__version__ = "0.1.0"
