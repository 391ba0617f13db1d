"""Ye et al. Figs. 1-4 end to end on their quick settings (attacks made once, into a private cache)."""

import os

import pytest

from keras_advinterp import runner


@pytest.fixture
def run_quick(tmp_path):
    """Runs a ye_saliency figure quick; every figure after the first reads the attacks from the session cache."""

    def run(name):
        rec = runner.run(runner.load_experiment(f"ye_saliency/{name}"), quick=True, out_dir=tmp_path,
                         progress=False)
        assert os.path.getsize(rec["files"]["png"]) > 5000
        assert any("differs from the paper" in n for n in rec["notes"])
        return rec["table"]

    return run


def test_fig1_shows_the_same_images_clean_and_attacked(run_quick):
    table = run_quick("fig1_gradcam")
    assert len(table) == 3 * 4
    images = {s: [r["image"] for r in table if r["set"] == s] for s in ("clean", "FGSM", "C&W-L2")}
    assert len(images["clean"]) == 4 and images["clean"] == images["FGSM"] == images["C&W-L2"]
    assert all((r["predicted"] == r["true"]) == (r["set"] == "clean") for r in table)  # only successful attacks
    assert all(r["flagged"] == (r["emphasis label"] != r["predicted"]) for r in table)


def test_fig2_label_changes_only_on_the_emphasis_image(run_quick):
    table = run_quick("fig2_emphasis")
    assert [(r["set"], r["theta"]) for r in table] == [(s, t) for s in ("clean", "FGSM") for t in (0.1, 0.3, 0.5)]
    assert len({r["image"] for r in table}) == 1
    for s in ("clean", "FGSM"):
        assert len({r["predicted"] for r in table if r["set"] == s}) == 1  # the map and c do not depend on theta
    assert all(r["flagged"] == (r["score"] > 0) == (r["emphasis label"] != r["predicted"]) for r in table)


def test_fig3_verdict_is_the_sign_of_the_score(run_quick):
    table = run_quick("fig3_detection")
    assert [r["set"] for r in table] == ["clean", "FGSM", "C&W-L2"]
    assert len({r["image"] for r in table}) == 1 and {r["enhancement"] for r in table} == {"zero_mean"}
    assert all(r["verdict"] == ("flagged" if r["score"] > 0 else "passed") for r in table)
    assert all(r["flagged"] == (r["emphasis label"] != r["predicted"]) for r in table)


def test_fig4_labels_clean_images_under_every_enhancement(run_quick):
    table = run_quick("fig4_enhancements")
    kinds = ["none", "color_reverse", "zero_mean", "color_reverse+zero_mean"]
    assert [r["enhancement"] for r in table] == [k for k in kinds for _ in range(4)]
    assert all(r["predicted"] == r["true"] for r in table)  # clean, correctly classified images
    assert all(r["label on processed image"] == r["predicted"] for r in table if r["enhancement"] == "none")
    assert all(r["flagged"] == (r["score"] > 0) for r in table)
