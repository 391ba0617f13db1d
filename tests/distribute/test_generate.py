"""Sharded adversarial generation: one output per input over workers, resume after a kill, devices."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_advinterp import attacks, cli
from keras_advinterp.distribute import generate_shard, shards

from .conftest import ROOT

PGD = attacks.PGD(eps=8 / 255, steps=2)


def _expected(folder: Path) -> list[str]:
    """Every readable image's output name (the clash img.jpg / img.png keeps both)."""
    sources = sorted((p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()),
                     key=lambda s: (Path(s).parent.as_posix(), Path(s).name))
    return sorted(o for s, o in zip(sources, shards.output_names(sources)) if not s.endswith("broken.png"))


def _pngs(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")
                  if shards.STATE_DIR not in p.relative_to(out).parts)


def _cli(*args):
    return [sys.executable, "-m", "keras_advinterp.cli", "attack", *args]


def test_two_workers_one_killed_and_resumed_write_exactly_one_output_per_input(image_folder, tmp_path, capsys):
    """Worker 0 runs as its own process and is killed mid-run; worker 1 runs here at the same time."""
    out = tmp_path / "adv"
    common = ["--data", str(image_folder), "--save-dir", str(out), "--steps", "2", "--eps", "8/255", "--workers", "2"]
    worker0 = _cli(*common, "--worker", "0", "--batch-size", "1", "--chunk", "1", "--out", str(tmp_path / "o0"))
    proc = subprocess.Popen(worker0, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = shards.manifest_path(out, 0, 2)
    try:
        assert cli.main(["attack", *common, "--worker", "1", "--batch-size", "4", "--out", str(tmp_path / "o1"),
                         "--json"]) == 0
        one = json.loads(capsys.readouterr().out)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if manifest.is_file() and manifest.read_text().count("\n") >= 2:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert (one["assigned"], one["generated"] + len(one["skipped"])) == (7, 7)  # 14 files interleaved over 2
    recorded = len(shards.read_manifests(out)) - 7
    assert recorded >= 2, "worker 0 recorded nothing before the deadline"
    assert cli.main(worker0[3:] + ["--json"]) == 0  # the killed worker's command, run again
    zero = json.loads(capsys.readouterr().out)
    assert zero["already_done"] == recorded and zero["generated"] + len(zero["skipped"]) == 7 - recorded
    assert zero["merge"]["complete"] and not zero["merge"]["duplicates"] and not zero["merge"]["extra"]
    assert [f for f, _ in shards.merge(out).skipped] == [p.relative_to(image_folder).as_posix()
                                                         for p in image_folder.rglob("broken.png")]
    assert _pngs(out) == _expected(image_folder)  # one PNG per readable input, none extra
    entries = shards.read_manifests(out)
    assert len(entries) == len({e["file"] for e in entries}) == 14
    rows = (out / "labels.csv").read_text().splitlines()
    assert rows[0] == "file,label,adversarial_prediction" and sorted(r.split(",")[0] for r in rows[1:]) == _pngs(out)
    (out / "labels.csv").unlink()
    assert cli.main(["attack", "--save-dir", str(out), "--verify"]) == 0
    assert "complete: 13 of 14 inputs" in capsys.readouterr().out and (out / "labels.csv").is_file()
    (out / rows[1].split(",")[0]).unlink()
    assert cli.main(["attack", "--save-dir", str(out), "--verify"]) == 2
    assert "1 missing" in capsys.readouterr().err


def test_a_partial_shard_resumes_without_redoing_or_duplicating(image_folder, tmp_path, shapes_clf):
    out = tmp_path / "adv"
    first = generate_shard(shapes_clf, PGD, image_folder, out, worker=1, workers=2, chunk=2, max_files=3)
    assert (first.assigned, first.generated, first.already_done) == (7, 3, 0)
    assert not first.report.complete and len(first.report.missing) == 11
    stamps = {p: p.stat().st_mtime_ns for p in (out / f for f in _pngs(out))}
    # what a kill leaves behind: a half-written staging folder and a torn last manifest line
    staging = shards.state_dir(out) / "staging-0001-of-0002"
    staging.mkdir()
    (staging / "half.png").write_bytes(b"\x89PNG")
    with open(shards.manifest_path(out, 1, 2), "a") as fh:
        fh.write('{"file": "tri')
    rest = generate_shard(shapes_clf, PGD, image_folder, out, worker=1, workers=2, chunk=2)
    assert (rest.already_done, rest.generated + len(rest.skipped)) == (3, 4)
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # finished files were not redone
    assert not staging.exists()
    other = generate_shard(shapes_clf, PGD, image_folder, out, worker=0, workers=2, chunk=3)
    assert other.report.complete and not other.report.duplicates
    assert _pngs(out) == _expected(image_folder)
    again = generate_shard(shapes_clf, PGD, image_folder, out, worker=0, workers=2)
    assert again.generated == 0 and again.already_done == 7 and again.report.complete
    entries = shards.read_manifests(out)
    assert len(entries) == len({e["file"] for e in entries}) == 14


def test_two_logical_devices_give_the_images_one_device_gives(image_folder, tmp_path, shapes_clf, mirrored_run):
    two = mirrored_run["generate"]
    assert two["replicas"] == 2 and len(two["devices"]) == 2 and two["generated"] == 13 and two["complete"]
    one = generate_shard(shapes_clf, attacks.BIM(eps=8 / 255, steps=3), image_folder, tmp_path / "one",
                         batch_size=8, chunk=8)
    assert one.replicas == 1 and one.report.complete
    outs = [tmp_path / "one", mirrored_run["out"]]
    assert _pngs(outs[0]) == _pngs(outs[1]) == _expected(image_folder)
    a = np.stack([np.asarray(Image.open(outs[0] / f), np.float32) for f in _pngs(outs[0])])
    b = np.stack([np.asarray(Image.open(outs[1] / f), np.float32) for f in _pngs(outs[1])])
    # BIM has no random start: the split over replicas may only change float rounding (a few 8-bit levels)
    assert np.mean(a == b) > 0.98 and np.abs(a - b).mean() < 0.2, (np.mean(a == b), np.abs(a - b).mean())


@pytest.mark.parametrize("kwargs, match", [
    ({"worker": 2, "workers": 2}, r"worker must be an index in \[0, 1\]"),
    ({"workers": 0, "worker": 0}, "workers must be >= 1"),
    ({"data": "missing"}, "image folder does not exist"),
    ({"out": "inside"}, "must lie outside the input folder"),
    ({"attack": attacks.UniversalPerturbation()}, "fits one perturbation to a whole set"),
    ({"target": 99}, r"target must be a class index in \[0, 6\)"),
    ({"labels": "guess"}, "labels must be one of"),
    ({"batch_size": 0}, "batch_size must be > 0"),
    ({"seed": -1}, "seed must be an integer"),
])
def test_bad_generation_settings_fail_before_any_work(image_folder, tmp_path, shapes_clf, kwargs, match):
    kwargs = dict(kwargs)
    data = image_folder if kwargs.get("data") is None else tmp_path / kwargs.pop("data")
    out = image_folder / "adv" if kwargs.pop("out", None) == "inside" else tmp_path / "out"
    attack = kwargs.pop("attack", PGD)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        generate_shard(shapes_clf, attack, data, out, **kwargs)
    assert not (tmp_path / "out").exists() and not (image_folder / "adv").exists()


def test_the_cli_rejects_bad_shard_settings_before_loading_a_model(tmp_path, image_folder, capsys):
    cases = [(["--workers", "2", "--worker", "5"], r"worker must be an index in [0, 1]"),
             (["--worker", "1"], "worker needs workers"),
             (["--workers", "2", "--worker", "0", "--tf-config"], "either from TF_CONFIG"),
             (["--workers", "1", "--data", "shapes"], "sharded runs read an image folder"),
             (["--workers", "1", "--data", str(tmp_path / "nope")], "--data folder does not exist"),
             (["--workers", "1", "--attack", "uap"], "uap fits one perturbation")]
    for extra, match in cases:
        argv = ["attack", "--data", str(image_folder), "--save-dir", str(tmp_path / "adv"), *extra]
        assert cli.main(argv) == 2, extra
        assert match in capsys.readouterr().err, extra
    assert cli.main(["attack", "--workers", "1"]) == 2
    assert "give --save-dir OUT" in capsys.readouterr().err
    assert not (tmp_path / "adv").exists()
