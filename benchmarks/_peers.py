"""ART, Foolbox 3 and CleverHans 4 run on one Classifier with our attacks' settings.

    run = build("art", attacks.PGD(eps=8/255, steps=10), clf)   # run(x, y) -> x_adv (NumPy)

Shared by ``benchmarks/attacks.py`` and ``tests/attacks/test_peers.py``.
Every peer sees ``clf.model`` (raw pixels in [0, 1] -> logits) and the
settings read from our attack's ``params()``, so both sides always run the
same budget. Install the peers with ``pip install -e ".[peers]"``.

Setting maps (ours -> peer):
    PGD:      eps, steps, step_size, norm, random_start -> ART ``eps, max_iter,
              eps_step, norm, num_random_init``; Foolbox ``epsilons, steps,
              abs_stepsize, random_start``; CleverHans ``eps, nb_iter,
              eps_iter, norm, rand_init``.
    C&W-L2:   steps, binary_search_steps, learning_rate, initial_const,
              confidence, abort_early -> ART ``CarliniL2Method`` (gradient
              descent with a line search, no early abort); Foolbox
              ``L2CarliniWagnerAttack`` (Adam). Not CleverHans: its 4.0.0 TF2
              ``carlini_wagner_l2`` fails on any image batch (its constant has
              the image shape, not (N,); cleverhans-lab/cleverhans#1205), and
              calls the Keras 2 ``optimizer.variables()``.
    DeepFool: steps, overshoot, candidates -> ART ``DeepFool(max_iter,
              epsilon, nb_grads)``; Foolbox ``L2DeepFoolAttack``. CleverHans
              4 has no TF2 DeepFool.
"""

from __future__ import annotations

import importlib

import numpy as np

PEERS = ("art", "foolbox", "cleverhans")
INSTALL = 'pip install -e ".[peers]"'
_MODULES = {"art": "art", "foolbox": "foolbox", "cleverhans": "cleverhans.tf2"}
_DISTRIBUTIONS = {"art": "adversarial-robustness-toolbox", "foolbox": "foolbox", "cleverhans": "cleverhans"}


def require(peer: str):
    """Imports a peer library, or raises ImportError saying how to install it."""
    if peer not in PEERS:
        raise ValueError(f"peer must be one of {PEERS}. Received: peer={peer!r}")
    try:
        return importlib.import_module(_MODULES[peer])
    except ImportError as e:
        raise ImportError(f"{_DISTRIBUTIONS[peer]} is not installed ({e}); the peer comparisons need "
                          f"the peers extra: {INSTALL}") from e


def available(peer: str) -> bool:
    try:
        require(peer)
        return True
    except ImportError:
        return False


def versions() -> dict:
    """Installed version of each peer (None when missing)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for peer, dist in _DISTRIBUTIONS.items():
        try:
            out[peer] = version(dist)
        except PackageNotFoundError:
            out[peer] = None
    return out


def supports(peer: str, attack) -> bool:
    return (peer, type(attack).__name__) in _BUILDERS


def build(peer: str, attack, clf, *, batch_size: int = 32):
    """``run(x, y) -> x_adv`` running ``peer``'s version of our ``attack`` (untargeted).

    Args:
        attack: our configured attack (``PGD``, ``CarliniWagnerL2`` or ``DeepFool``);
            its ``params()`` give the peer's settings.
        clf: our Classifier; the peer wraps ``clf.model``.
        batch_size: images per peer call (ART's ``batch_size``; Foolbox and
            CleverHans get the whole array).
    """
    require(peer)
    key = (peer, type(attack).__name__)
    if key not in _BUILDERS:
        raise ValueError(f"{peer} has no counterpart of {type(attack).__name__} here. Received: peer={peer!r}")
    fn = _BUILDERS[key](attack.params(), clf, batch_size)

    def run(x, y):
        return np.asarray(fn(np.asarray(x, np.float32), np.asarray(y, np.int64)), np.float32)

    return run


# -- ART -------------------------------------------------------------------
def art_classifier(clf):
    import keras
    from art.estimators.classification import TensorFlowV2Classifier

    return TensorFlowV2Classifier(
        model=clf.model, nb_classes=clf.num_classes, input_shape=clf.input_shape,
        loss_object=keras.losses.SparseCategoricalCrossentropy(from_logits=True), clip_values=(0.0, 1.0))


def _plain_pgd(p):
    """Peers only mirror plain PGD: one start, no momentum, cross-entropy, Linf or L2."""
    plain = {"restarts": 1, "momentum": 0.0, "loss": "ce"}
    extra = {k: p[k] for k, v in plain.items() if p.get(k, v) != v}
    if extra or p["norm"] not in ("linf", "l2"):
        raise ValueError(f"the peers run plain Linf/L2 PGD only. Received: norm={p['norm']!r}, {extra}")


def _art_pgd(p, clf, batch_size):
    from art.attacks.evasion import ProjectedGradientDescent

    _plain_pgd(p)
    attack = ProjectedGradientDescent(
        art_classifier(clf), norm=np.inf if p["norm"] == "linf" else 2, eps=p["eps"], eps_step=p["step_size"],
        max_iter=p["steps"], num_random_init=int(p["random_start"]), batch_size=batch_size, verbose=False)
    return lambda x, y: attack.generate(x, y=y)


def _art_cw(p, clf, batch_size):
    from art.attacks.evasion import CarliniL2Method

    attack = CarliniL2Method(
        art_classifier(clf), confidence=p["confidence"], learning_rate=p["learning_rate"],
        binary_search_steps=p["binary_search_steps"], max_iter=p["steps"], initial_const=p["initial_const"],
        batch_size=batch_size, verbose=False)
    return lambda x, y: attack.generate(x, y=y)


def _art_deepfool(p, clf, batch_size):
    from art.attacks.evasion import DeepFool

    if p["norm"] != "l2":
        raise ValueError(f"ART's DeepFool is L2 only. Received: norm={p['norm']!r}")
    attack = DeepFool(art_classifier(clf), max_iter=p["steps"], epsilon=p["overshoot"],
                      nb_grads=p["candidates"], batch_size=batch_size, verbose=False)
    return lambda x, y: attack.generate(x, y=y)  # ART's DeepFool attacks the predicted label


# -- Foolbox ---------------------------------------------------------------
def _foolbox_call(attack, clf, epsilons):
    import foolbox as fb
    import tensorflow as tf

    model = fb.TensorFlowModel(clf.model, bounds=(0, 1))

    def run(x, y):
        _, clipped, _ = attack(model, tf.constant(x), tf.constant(y), epsilons=epsilons)
        x_adv = clipped.numpy()
        # Foolbox's C&W returns a black image where it found nothing (misclassified, hence a false
        # "success" at a huge L2); give the clean image back instead, as ours and ART do.
        failed = ~x_adv.reshape(len(x), -1).any(axis=1) & x.reshape(len(x), -1).any(axis=1)
        x_adv[failed] = x[failed]
        return x_adv

    return run


def _foolbox_pgd(p, clf, batch_size):
    import foolbox as fb

    _plain_pgd(p)
    cls = fb.attacks.LinfPGD if p["norm"] == "linf" else fb.attacks.L2PGD
    attack = cls(abs_stepsize=p["step_size"], steps=p["steps"], random_start=p["random_start"])
    return _foolbox_call(attack, clf, p["eps"])


def _foolbox_cw(p, clf, batch_size):
    import foolbox as fb

    attack = fb.attacks.L2CarliniWagnerAttack(
        binary_search_steps=p["binary_search_steps"], steps=p["steps"], stepsize=p["learning_rate"],
        confidence=p["confidence"], initial_const=p["initial_const"], abort_early=p["abort_early"])
    return _foolbox_call(attack, clf, None)


def _foolbox_deepfool(p, clf, batch_size):
    import foolbox as fb

    cls = fb.attacks.L2DeepFoolAttack if p["norm"] == "l2" else fb.attacks.LinfDeepFoolAttack
    attack = cls(steps=p["steps"], candidates=p["candidates"], overshoot=p["overshoot"])
    return _foolbox_call(attack, clf, None)


# -- CleverHans ------------------------------------------------------------
def _cleverhans_pgd(p, clf, batch_size):
    import tensorflow as tf
    from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent

    _plain_pgd(p)

    def run(x, y):
        return projected_gradient_descent(
            clf.model, tf.constant(x), p["eps"], p["step_size"], p["steps"], np.inf if p["norm"] == "linf" else 2,
            clip_min=0.0, clip_max=1.0, y=tf.constant(y), rand_init=p["random_start"], sanity_checks=False).numpy()

    return run


_BUILDERS = {
    ("art", "PGD"): _art_pgd,
    ("art", "CarliniWagnerL2"): _art_cw,
    ("art", "DeepFool"): _art_deepfool,
    ("foolbox", "PGD"): _foolbox_pgd,
    ("foolbox", "CarliniWagnerL2"): _foolbox_cw,
    ("foolbox", "DeepFool"): _foolbox_deepfool,
    ("cleverhans", "PGD"): _cleverhans_pgd,
}
