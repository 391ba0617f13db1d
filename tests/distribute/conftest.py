"""Worker processes for the distribute tests: free loopback ports, bounded runs, killed on failure."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

WORKER = Path(__file__).with_name("_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def run_processes(commands: list[list[str]], envs: list[dict], timeout: float) -> list[tuple[int, str]]:
    """Runs the commands at once; returns (exit code, stdout + stderr) each.

    Every process is killed when the deadline passes or as soon as one fails
    (its peers would wait for it in a collective until they time out).
    """
    procs = []
    for cmd, extra in zip(commands, envs):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT), **extra}
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      cwd=ROOT))
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in procs):
            if time.monotonic() > deadline or any(p.poll() not in (None, 0) for p in procs):
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return [(p.wait(), p.stdout.read()) for p in procs]


def result_of(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the worker printed no result:\n{output[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def worker_command(*args: str) -> list[str]:
    return [sys.executable, str(WORKER), *args]


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory, shapes_data):
    """A class/image folder of 14 files: 13 shapes images (JPEG and PNG; two share a stem) and one unreadable."""
    root = tmp_path_factory.mktemp("images")
    for i in range(12):
        cls = root / shapes_data.class_names[shapes_data.y[i]]
        cls.mkdir(exist_ok=True)
        img = Image.fromarray((shapes_data.x[i] * 255).round().astype(np.uint8))
        img.save(cls / f"img{i:02d}.{'png' if i % 2 else 'jpg'}")
    first = next(p for p in sorted(root.rglob("img*.jpg")))
    Image.open(first).save(first.with_suffix(".png"))  # img.jpg beside img.png: both must get an output
    (first.parent / "broken.png").write_bytes(b"not a png")
    return root


@pytest.fixture(scope="session")
def mirrored_run(image_folder, tmp_path_factory):
    """One process on 2 logical CPU devices: MirroredStrategy training, then generation over ``image_folder``."""
    out = tmp_path_factory.mktemp("mirrored") / "adv"
    command = worker_command("both", "--strategy", "mirrored", "--devices", "2", "--images", "32", "--data",
                             str(image_folder), "--out", str(out))
    [(code, text)] = run_processes([command], [{}], timeout=170)
    assert code == 0, text[-3000:]
    return {**result_of(text), "out": out}
