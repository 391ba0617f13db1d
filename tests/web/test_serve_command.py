"""`advinterp serve`: the real command answers on 127.0.0.1; a user's model file works in the page; bad flags fail."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from models.user_models import dense_softmax, trained_looking

from keras_advinterp import cli
from keras_advinterp.web import Engine


def test_the_command_serves_the_page_on_localhost():
    import requests

    proc = subprocess.Popen([sys.executable, "-m", "keras_advinterp.cli", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url, seen, deadline = None, [], time.time() + 180
        while url is None and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(r"open (http://127\.0\.0\.1:\d+)/", line)
            url = m and m.group(1)
        assert url, "no address printed:\n" + "".join(seen)
        assert requests.get(url + "/api/health", timeout=30).json()["models"] == ["shapes", "shapes_mobile"]
        page = requests.get(url + "/", timeout=30)
        assert page.status_code == 200 and 'id="eps"' in page.text
        r = requests.get(url + "/api/attack", params={"image": "sample:shapes:1", "eps": "8/255", "cam": "cam"},
                         timeout=60)
        assert r.status_code == 200 and r.json()["model"] == "shapes"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.parametrize("argv, message", [
    (["serve", "--port", "70000"], "--port must be in 0..65535"),
    (["serve", "--model", "no_such_model", "--port", "0"], "unknown model 'no_such_model'"),
])
def test_bad_flags_fail_before_serving(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_users_model_file_works_in_the_page(tmp_path):
    path = tmp_path / "mine.keras"
    trained_looking(dense_softmax()).save(path)
    (tmp_path / "classes.txt").write_text("alpha\nbeta\ngamma\ndelta\n")
    engine = Engine(str(path), model_options={"classes": str(tmp_path / "classes.txt")})
    info = engine.describe_model(engine.default_model)
    assert info["classes"] == 4 and info["input_size"] == [14, 14] and info["transfer_targets"] == []
    assert engine.default_model in [m["name"] for m in engine.model_names() if m["loaded"]]
    sample = engine.samples(engine.default_model)[0]["id"]
    out = engine.attack(sample, engine.default_model, "fgsm", "16/255", cam=info["cam_methods"][0])
    assert out["clean"]["top5"][0]["name"] in {"alpha", "beta", "gamma", "delta"} and len(out["clean"]["top5"]) == 4
    assert out["perturbation"]["linf_255"] == pytest.approx(16, abs=0.01)
    assert np.isfinite(out["cam"]["shift_l1"])
