"""Shard assignment, output names, manifests and the merge check (no model involved)."""

import json

import pytest
from PIL import Image

from keras_advinterp.distribute import merge, output_names, shard_indices, shards


@pytest.mark.parametrize("n, workers", [(0, 1), (1, 3), (7, 2), (10, 3), (64, 8)])
def test_shards_are_disjoint_cover_everything_and_stay_balanced(n, workers):
    parts = [shard_indices(n, w, workers) for w in range(workers)]
    flat = [i for p in parts for i in p]
    assert sorted(flat) == list(range(n)) and len(flat) == len(set(flat))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert parts == [shard_indices(n, w, workers) for w in range(workers)]  # deterministic


def test_output_names_keep_paths_and_never_collide():
    names = output_names(["cat/a.jpg", "cat/a.png", "dog/b.jpeg", "c.tif"])
    assert names == ["cat/a.png", "cat/a-000001.png", "dog/b.png", "c.png"]
    assert len(set(names)) == len(names)


def _run(tmp_path, sources=("x/a.jpg", "x/b.jpg", "y/c.jpg")):
    out = tmp_path / "out"
    outputs = output_names(list(sources))
    shards.start_run(out, {"attack": "PGD()"}, list(sources), outputs)
    return out, outputs


def _png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4)).save(path)


def _entry(src, out, label=1, pred=2):
    return {"file": src, "output": out, "label": label, "prediction": pred, "prediction_8bit": pred,
            "success_8bit": pred != label}


def test_merge_reports_missing_duplicate_and_extra_files(tmp_path):
    out, outputs = _run(tmp_path)
    m0 = shards.Manifest(shards.manifest_path(out, 0, 2))
    m1 = shards.Manifest(shards.manifest_path(out, 1, 2))
    for o in outputs[:2]:
        _png(out / o)
    m0.append([_entry("x/a.jpg", "x/a.png")])
    m1.append([_entry("x/b.jpg", "x/b.png"), _entry("x/a.jpg", "x/a.png")])  # a recorded by both workers
    _png(out / "z" / "stray.png")
    report = merge(out)
    assert not report.complete and not report.written and not (out / "labels.csv").exists()
    assert report.missing == ["y/c.jpg"] and report.duplicates == {"x/a.jpg": 2}
    assert report.extra == ["z/stray.png"]
    text = "\n".join(report.lines())
    assert "INCOMPLETE" in text and "1 missing: y/c.jpg" in text and "recorded twice or more: x/a.jpg" in text


def test_a_recorded_file_whose_png_is_gone_counts_as_missing(tmp_path):
    out, outputs = _run(tmp_path, ("a.jpg",))
    shards.Manifest(shards.manifest_path(out, 0, 1)).append([_entry("a.jpg", "a.png")])
    assert merge(out).missing == ["a.jpg"]
    _png(out / "a.png")
    assert merge(out).complete


def test_complete_run_writes_labels_csv_and_summary(tmp_path):
    out, outputs = _run(tmp_path)
    m = shards.Manifest(shards.manifest_path(out, 0, 1))
    for src, o, label in zip(["y/c.jpg", "x/a.jpg"], ["y/c.png", "x/a.png"], [3, 0]):
        _png(out / o)
        m.append([_entry(src, o, label=label, pred=label)])
    m.append([{"file": "x/b.jpg", "skipped": "not an image"}])
    report = merge(out)
    assert report.complete and report.written and report.skipped == [("x/b.jpg", "not an image")]
    assert (out / "labels.csv").read_text().splitlines() == [
        "file,label,adversarial_prediction", "x/a.png,0,0", "y/c.png,3,3"]
    summary = json.loads((shards.state_dir(out) / shards.SUMMARY_FILE).read_text())
    assert summary["complete"] and summary["done"] == 2 and summary["success_rate_8bit"] == 0.0


def test_a_torn_manifest_line_is_ignored_and_the_next_append_starts_clean(tmp_path):
    out, outputs = _run(tmp_path)
    path = shards.manifest_path(out, 0, 1)
    _png(out / "x/a.png")
    path.write_text(json.dumps(_entry("x/a.jpg", "x/a.png")) + "\n" + '{"file": "x/b.jpg", "outp')
    assert [e["file"] for e in shards.read_manifests(out)] == ["x/a.jpg"]
    _png(out / "x/b.png")
    shards.Manifest(path).append([_entry("x/b.jpg", "x/b.png")])
    assert [e["file"] for e in shards.read_manifests(out)] == ["x/a.jpg", "x/b.jpg"]


def test_a_run_with_other_settings_or_files_is_refused(tmp_path):
    out, outputs = _run(tmp_path)
    shards.start_run(out, {"attack": "PGD()"}, ["x/a.jpg", "x/b.jpg", "y/c.jpg"], outputs)  # same: fine
    with pytest.raises(ValueError, match="holds a run with other settings.*attack='PGD\\(\\)' before, 'FGSM\\(\\)'"):
        shards.start_run(out, {"attack": "FGSM()"}, ["x/a.jpg", "x/b.jpg", "y/c.jpg"], outputs)
    with pytest.raises(ValueError, match="input folder changed.*1 new file"):
        shards.start_run(out, {"attack": "PGD()"}, ["x/a.jpg", "x/b.jpg", "y/c.jpg", "y/d.jpg"],
                         output_names(["x/a.jpg", "x/b.jpg", "y/c.jpg", "y/d.jpg"]))


def test_merge_of_a_folder_without_a_run_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sharded run in"):
        merge(tmp_path)
