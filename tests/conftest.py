"""Shared tiny models and data. Tests never touch the network."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_ADVINTERP_OFFLINE"] = "1"  # an ImageNet download is never attempted

import numpy as np
import pytest

from keras_advinterp import data, models


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Adversarial sets and trained detectors go to one cache for the session, never the user's.

    Experiments made by one test file (their quick attacks) are read by the next.
    """
    old = os.environ.get("KERAS_ADVINTERP_CACHE")
    os.environ["KERAS_ADVINTERP_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield os.environ["KERAS_ADVINTERP_CACHE"]
    if old is None:
        os.environ.pop("KERAS_ADVINTERP_CACHE", None)
    else:
        os.environ["KERAS_ADVINTERP_CACHE"] = old


@pytest.fixture(scope="session")
def shapes_clf():
    return models.load("shapes")


@pytest.fixture(scope="session")
def digits_clf():
    return models.load("digits")


@pytest.fixture(scope="session")
def shapes_data():
    return data.load("shapes", "test", limit=96)


@pytest.fixture(scope="session")
def digits_data():
    return data.load("digits", "test", limit=64)


@pytest.fixture(scope="session")
def shapes_correct(shapes_clf, shapes_data):
    """Shapes test images the embedded model classifies correctly (x, y, masks)."""
    pred = shapes_clf.predict(shapes_data.x).argmax(1)
    keep = pred == shapes_data.y
    return shapes_data.x[keep], shapes_data.y[keep], shapes_data.masks[keep]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _cwd_unchanged():
    """A test (or a library it calls) must not move or delete the working directory."""
    before = os.getcwd()
    yield
    try:
        now = os.getcwd()
    except FileNotFoundError:
        now = None
    if now != before:
        os.chdir(before)
        pytest.fail(f"the working directory changed during this test: {before!r} -> {now!r}")


@pytest.fixture(scope="session")
def in_budget():
    """``in_budget(x_adv, x, norm, eps)``: asserts every image is inside its budget and in [0, 1].

    The one tolerance every test uses: float32 rounding, ``attacks.norms.budget_slack``.
    """
    from keras_advinterp.attacks.norms import budget_slack, perturbation_norms, within_budget

    def check(x_adv, x, norm: str, eps: float) -> None:
        x_adv, x = np.asarray(x_adv), np.asarray(x)
        ok = within_budget(x_adv - x, norm, eps)
        worst = perturbation_norms(x_adv - x)[norm].max()
        assert ok.all(), f"{norm} {worst!r} > eps {eps!r} + slack {budget_slack(norm, eps, x[0].size)!r}"
        assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0

    return check
