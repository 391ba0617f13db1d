"""Each endpoint's answers, and clear 4xx answers to bad requests (the server stays up)."""

import numpy as np
import pytest

from keras_advinterp import attacks
from keras_advinterp.attacks.norms import budget_slack
from keras_advinterp.web import EPS_MAX

IMAGE = "sample:shapes:0"


def get(client, path, **params):
    r = client.get(path, query_string=params)
    return r.status_code, r.get_json()


def test_models_lists_embedded_models_attacks_and_the_eps_range(client):
    status, body = get(client, "/api/models")
    assert status == 200 and body["default"] == "shapes"
    names = {m["name"]: m for m in body["models"]}
    assert names["shapes"]["available"] and names["shapes_mobile"]["available"] and names["shapes"]["loaded"]
    assert set(body["attacks"]) == {"fgsm", "pgd", "deepfool"}
    assert body["eps_max_255"] == 64 and abs(body["eps_max"] - 64 / 255) < 1e-9


def test_model_info_has_overlays_transfer_partner_and_one_sample_per_class_first(client):
    status, body = get(client, "/api/model", name="shapes")
    assert status == 200
    assert body["cam_methods"] == ["cam", "gradcam"] and body["transfer_targets"][0] == "shapes_mobile"
    assert "digits" not in body["transfer_targets"]  # other classes
    assert len(body["samples"]) == 12 and body["samples"][0]["thumbnail"].startswith("data:image/png;base64,")
    assert len({s["label"] for s in body["samples"][:6]}) == 6


def test_fgsm_on_the_page_is_the_package_fgsm(engine):
    prep = engine._prepared(IMAGE, "shapes")
    clf = engine.model("shapes").clf
    for eps in (2 / 255, 8 / 255, 20 / 255):
        reference = attacks.FGSM(eps=eps)(clf, prep["x"][None], np.asarray([prep["label"]])).x_adv[0]
        np.testing.assert_allclose(engine.adversarial(IMAGE, "shapes", "fgsm", eps), reference, atol=1e-6)


def test_scores_follow_eps(client):
    _, zero = get(client, "/api/attack", model="shapes", image=IMAGE, attack="fgsm", eps="0")
    assert zero["perturbation"]["linf"] == 0 and not zero["adversarial"]["changed"]
    assert zero["adversarial"]["top5"] == zero["clean"]["top5"]
    ps = [c["p"] for c in zero["clean"]["top5"]]
    assert ps == sorted(ps, reverse=True) and 99 < sum(ps) <= 100.01
    _, big = get(client, "/api/attack", model="shapes", image=IMAGE, attack="fgsm", eps="40/255")
    assert big["adversarial"]["changed"] and big["adversarial"]["pred"] != big["label"]["index"]
    assert abs(big["perturbation"]["linf_255"] - 40) < 0.01 and big["eps_255"] == 40
    # a slider half step
    _, half = get(client, "/api/attack", model="shapes", image=IMAGE, attack="fgsm", eps="8.5/255")
    assert half["eps_255"] == 8.5
    assert big["images"]["adversarial"].startswith("data:image/png;base64,")


@pytest.mark.parametrize("attack", ["pgd", "deepfool"])
def test_other_attacks_stay_in_budget_and_repeat_exactly(client, attack):
    eps = 6 / 255
    _, first = get(client, "/api/attack", model="shapes", image=IMAGE, attack=attack, eps="6/255")
    _, again = get(client, "/api/attack", model="shapes", image=IMAGE, attack=attack, eps="6/255")
    assert first["perturbation"]["linf"] <= eps + budget_slack("linf", eps, 64 * 64 * 3)
    assert first["adversarial"]["top5"] == again["adversarial"]["top5"]
    assert first["images"]["adversarial"] == again["images"]["adversarial"]


def test_pgd_is_stronger_than_fgsm_at_the_same_eps(client):
    fooled = {"fgsm": 0, "pgd": 0}
    for k in range(6):
        for attack in fooled:
            _, r = get(client, "/api/attack", model="shapes", image=f"sample:shapes:{k}", attack=attack, eps="8/255")
            fooled[attack] += r["adversarial"]["changed"]
    assert fooled["pgd"] >= fooled["fgsm"] and fooled["pgd"] >= 3


def test_deepfool_comparison_against_the_slider(client):
    status, d = get(client, "/api/deepfool", model="shapes", image=IMAGE, eps="8/255")
    assert status == 200 and d["success"] and 0 < d["linf"] < EPS_MAX
    assert d["eps_over_minimal"] == pytest.approx((8 / 255) / d["linf"], rel=1e-3)
    assert d["adversarial"]["pred"] != d["label"]["index"]
    # Clipped to a budget above DeepFool's own, the slider's DeepFool image is DeepFool's.
    eps = str(min(2 * d["linf"], EPS_MAX))
    _, r = get(client, "/api/attack", model="shapes", image=IMAGE, attack="deepfool", eps=eps)
    assert r["adversarial"]["pred"] == d["adversarial"]["pred"]
    assert r["perturbation"]["linf"] == pytest.approx(d["linf"], abs=1e-6)


@pytest.mark.parametrize("method", ["cam", "gradcam"])
def test_overlays_on_demand_for_a_chosen_class(client, method):
    _, plain = get(client, "/api/attack", model="shapes", image=IMAGE, eps="8/255")
    assert plain["cam"] is None and plain["saliency"] is None and plain["transfer"] is None
    _, r = get(client, "/api/attack", model="shapes", image=IMAGE, eps="8/255", cam=method, cam_class="2")
    assert r["cam"]["method"] == method and r["cam"]["class"] == {"index": 2, "name": "triangle"}
    assert r["cam"]["clean"].startswith("data:image/png") and r["cam"]["adversarial"] != r["cam"]["clean"]
    _, default = get(client, "/api/attack", model="shapes", image=IMAGE, eps="8/255", cam=method)
    assert default["cam"]["class"]["index"] == default["label"]["index"]


def test_saliency_difference_grows_from_zero(client):
    _, zero = get(client, "/api/attack", model="shapes", image=IMAGE, eps="0", saliency="1")
    _, big = get(client, "/api/attack", model="shapes", image=IMAGE, eps="32/255", saliency="1")
    assert zero["saliency"]["mean_abs_difference"] == 0
    assert big["saliency"]["mean_abs_difference"] > 0.01 and big["saliency"]["changed_area"] > 0


def test_transfer_panel_shows_the_other_model(client):
    _, zero = get(client, "/api/attack", model="shapes", image=IMAGE, eps="0", transfer="shapes_mobile")
    t = zero["transfer"]
    assert t["model"] == "shapes_mobile" and not t["fooled"] and t["top5"] == t["clean_top5"]
    _, back = get(client, "/api/attack", model="shapes_mobile", image=IMAGE, eps="8/255", transfer="shapes")
    assert back["model"] == "shapes_mobile" and back["transfer"]["model"] == "shapes"


BAD = [
    ({"eps": "-1/255"}, 400, "eps must be in"),
    ({"eps": "abc"}, 400, "eps must be a number"),
    ({"eps": "0.5"}, 400, r"Received: eps='0.5'"),
    ({"eps": "8"}, 400, "did you mean 8/255"),
    ({"eps": "nan"}, 400, "eps must be a number"),
    ({"eps": "8/0"}, 400, "eps must be a number"),
    ({"model": "nope"}, 400, "unknown model 'nope'"),
    ({"attack": "cw"}, 400, "unknown attack 'cw'"),
    ({"image": "upload:doesnotexist"}, 404, "unknown image"),
    ({"image": ""}, 400, "missing query parameter 'image'"),
    ({"cam": "lime"}, 400, "overlay 'lime' is not available"),
    ({"cam": "cam", "cam_class": "6"}, 400, r"cam_class must be a class index in \[0, 5\]"),
    ({"cam": "cam", "cam_class": "x"}, 400, "cam_class must be a class index"),
    ({"transfer": "digits"}, 400, "cannot transfer from 'shapes' to 'digits'"),
    ({"saliency": "maybe"}, 400, "saliency must be 0 or 1"),
]


@pytest.mark.parametrize("override, status, message", BAD)
def test_bad_requests_get_a_clear_4xx_and_the_server_stays_up(client, override, status, message):
    import re

    params = {"model": "shapes", "image": IMAGE, "attack": "fgsm", "eps": "8/255", **override}
    code, body = get(client, "/api/attack", **params)
    assert code == status and body["status"] == status
    assert re.search(message, body["error"]), body["error"]
    assert get(client, "/api/health")[0] == 200


def test_a_model_without_weights_is_listed_and_refused_clearly(client, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache: no ImageNet weights
    _, body = get(client, "/api/models")
    mobilenet = next(m for m in body["models"] if m["name"] == "mobilenet")
    assert not mobilenet["available"] and "mobilenet_1_0_224_tf.h5" in mobilenet["reason"]
    code, err = get(client, "/api/attack", model="mobilenet", image=IMAGE, eps="8/255")
    assert code == 409 and "cannot load" in err["error"] and "weights" in err["error"]
    assert get(client, "/api/model", name="mobilenet")[0] == 409


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and b'id="eps"' in page.data and b"/static/app.js" in page.data
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert get(client, "/api/nothing")[0] == 404
