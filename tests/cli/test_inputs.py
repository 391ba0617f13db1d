"""The CLI's inputs and budgets: units as written, folder labels matched by name, skipped files reported."""

import json

import numpy as np
import pytest
from PIL import Image

from keras_advinterp import cli


def _folder(root, shapes_data, names, count=2):
    """``root/<name>/img<i>.png`` for the first images of each shapes class, named as given."""
    for cls, name in enumerate(names):
        (root / name).mkdir(parents=True, exist_ok=True)
        picks = np.flatnonzero(shapes_data.y == cls)[:count]
        for i in picks:
            Image.fromarray((shapes_data.x[i] * 255).round().astype(np.uint8)).save(root / name / f"img{i}.png")
    return root


def _run(capsys, argv):
    code = cli.main(argv + ["--json"])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if code == 0 else None), out.err


def test_eps_is_taken_as_written(tmp_path, capsys):
    code, s, _ = _run(capsys, ["attack", "--model", "digits", "--limit", "4", "--eps", "2", "--norm", "l2",
                               "--steps", "3", "--out", str(tmp_path)])
    assert code == 0 and s["params"]["eps"] == 2.0 and s["params"]["norm"] == "l2"  # not 2/255
    code, s, _ = _run(capsys, ["attack", "--model", "digits", "--limit", "4", "--eps", "8/255", "--steps", "2",
                               "--out", str(tmp_path)])
    assert code == 0 and s["params"]["eps"] == pytest.approx(8 / 255)


@pytest.mark.parametrize("argv", [["attack", "--eps", "8"], ["attack", "--step-size", "2"],
                                  ["demo", "--eps", "8"], ["explain", "--attack", "fgsm", "--eps", "4"]])
def test_linf_budget_above_one_suggests_255(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "did you mean" in err and "/255" in err


def test_folder_classes_are_matched_by_name_not_order(tmp_path, capsys, shapes_data):
    names = list(shapes_data.class_names)
    # reversed, upper-case: sorted folder order is not the model's order
    folder = _folder(tmp_path / "set", shapes_data, [n.upper() for n in names][::-1])
    for i, n in enumerate(names[::-1]):  # the folder for model class i holds images of class i
        (folder / n.upper()).rename(folder / f"tmp_{i}")
    for i in range(len(names)):
        (folder / f"tmp_{i}").rename(folder / names[len(names) - 1 - i].upper())
    code, s, _ = _run(capsys, ["explain", "--data", str(folder), "--method", "cam", "--out", str(tmp_path / "o")])
    assert code == 0
    saved = np.load(s["maps"])
    labels = {f.split("/")[-2].lower(): int(c) for f, c in zip(saved["files"], saved["class_index"])}
    assert labels == {n.lower(): names.index(n.lower()) for n in labels}


def test_unmatched_folder_classes_are_an_error_unless_labels_predicted(tmp_path, capsys, shapes_data):
    folder = _folder(tmp_path / "set", shapes_data, ["cat", "dog"])
    assert cli.main(["attack", "--data", str(folder), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "cat" in err and "dog" in err and "--labels predicted" in err and "circle" in err
    code, s, _ = _run(capsys, ["attack", "--data", str(folder), "--labels", "predicted", "--eps", "8/255",
                               "--out", str(tmp_path / "o")])
    assert code == 0 and s["labels_from_predictions"] == s["images"] == 4


def test_saved_copy_is_reattacked_with_its_labels_and_skips_are_reported(tmp_path, capsys, shapes_data):
    names = list(shapes_data.class_names)
    folder = _folder(tmp_path / "set", shapes_data, names, count=1)
    (folder / names[0] / "empty.png").write_bytes(b"")
    (folder / names[1] / "nested").mkdir()
    code, s, _ = _run(capsys, ["attack", "--data", str(folder), "--eps", "8/255", "--out", str(tmp_path / "o"),
                               "--save-dir", str(tmp_path / "adv")])
    assert code == 0 and s["images"] == len(names)
    skipped = {d["file"]: d["reason"] for d in s["skipped"]}
    assert skipped == {f"{names[0]}/empty.png": "empty file", f"{names[1]}/nested": "subfolder ignored"}
    first = np.load(tmp_path / "o" / "adversarial.npz")
    # the saved copy (PNG + labels.csv) comes back with the same labels
    code, again, _ = _run(capsys, ["attack", "--data", str(tmp_path / "adv"), "--attack", "fgsm", "--eps", "0",
                                   "--out", str(tmp_path / "o2")])
    second = np.load(tmp_path / "o2" / "adversarial.npz")
    assert code == 0 and again["labels_from_predictions"] == 0
    assert sorted(zip(map(str, first["labels"]), [f.split("/")[-1][:-4] for f in first["files"]])) == \
        sorted(zip(map(str, second["labels"]), [f.split("/")[-1][:-4] for f in second["files"]]))
    cli.main(["attack", "--data", str(folder), "--eps", "8/255", "--out", str(tmp_path / "o3")])
    text = capsys.readouterr().out
    assert f"skipped {names[0]}/empty.png: empty file" in text and "2 file(s) skipped" in text


@pytest.mark.parametrize("attack", ["cw", "ead", "deepfool", "stadv", "strattack", "fgsm", "uap"])
def test_explain_attack_works_for_every_attack(attack, tmp_path, capsys):
    argv = ["explain", "--model", "digits", "--limit", "4", "--method", "cam", "--attack", attack,
            "--out", str(tmp_path)]
    argv += {"cw": ["--steps", "5", "-p", "binary_search_steps=1"],
             "ead": ["--steps", "5", "-p", "binary_search_steps=1"],
             "deepfool": ["--steps", "5"], "stadv": ["--steps", "5"],
             "strattack": ["--steps", "5", "-p", "binary_search_steps=1"], "fgsm": ["--eps", "0.2"],
             "uap": ["--eps", "0.2", "-p", "max_passes=1", "-p", "method=sgd"]}[attack]
    code, s, err = _run(capsys, argv)
    assert code == 0, err
    assert 0.0 <= s["success_rate"] <= 1.0 and s["attack_params"]
    assert np.load(s["maps"])["maps_adv"].shape == (4, 32, 32)


def test_explain_attack_prints_success_and_ignored_flags(tmp_path, capsys):
    assert cli.main(["explain", "--model", "digits", "--limit", "3", "--method", "cam", "--attack", "deepfool",
                     "--eps", "0.1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "success rate" in out and "deepfool takes no --eps; ignored" in out


def test_image_files_saved_copy_keeps_their_names(tmp_path, capsys, shapes_data):
    files = []
    for i, name in enumerate(["cat.jpg", "dog photo.png"]):
        Image.fromarray((shapes_data.x[i] * 255).round().astype(np.uint8)).save(tmp_path / name)
        files.append(str(tmp_path / name))
    code, s, err = _run(capsys, ["attack", "--image", *files, "--eps", "8/255", "--out", str(tmp_path / "o"),
                                 "--save-dir", str(tmp_path / "adv")])
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "adv").glob("*.png")) == ["cat.png", "dog photo.png"]


def test_uap_default_says_what_budget_it_needs(tmp_path, capsys):
    code, s, err = _run(capsys, ["attack", "--attack", "uap", "--limit", "16", "-p", "max_passes=1",
                                 "--out", str(tmp_path)])
    assert code == 0, err
    found = s["budget_search"]
    assert found["eps"] is not None and found["eps"] > 10 / 255 and found["images"] == 16
