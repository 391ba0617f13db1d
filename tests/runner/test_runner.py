import dataclasses
import json
import logging

import pytest

from keras_advinterp import runner
from keras_advinterp.runner import Experiment, Table


def _toy(calls):
    """Squares numbers in units of three; summarize sums them per unit."""

    def run_unit(ctx, s, unit):
        calls.append(unit)
        return [{"unit": unit, "value": (unit * 3 + k) ** 2} for k in range(3)]

    def summarize(rows, s, ctx):
        total = sum(r["value"] for r in rows)
        return Table(rows=[{"units": s["n"], "sum": total, "sum (paper)": 42}], notes=["toy setting"])

    return Experiment(
        name="toy", paper="testing", title="Toy (Table 0)", defaults={"n": 5, "seed": 0},
        quick={"n": 2}, prepare=lambda s: {}, units=lambda ctx, s: list(range(s["n"])),
        run_unit=run_unit, summarize=summarize,
    )


def test_killed_run_resumes_and_gives_the_same_table(tmp_path):
    calls = []
    exp = _toy(calls)
    partial = runner.run(exp, out_dir=tmp_path / "a", stop_after=2, progress=False)
    assert partial["status"] == "stopped" and partial["done"] == 2
    assert not (tmp_path / "a" / "testing" / "toy.json").exists()
    resumed = runner.run(exp, out_dir=tmp_path / "a", progress=False)
    assert calls == [0, 1, 2, 3, 4]  # nothing was computed twice
    assert resumed["timings"]["units_resumed"] == 2 and resumed["timings"]["units_run"] == 3
    again = runner.run(exp, out_dir=tmp_path / "a", progress=False)  # everything resumed: the run time is kept
    assert again["timings"]["units_run"] == 0
    assert again["timings"]["seconds_all_units"] == resumed["timings"]["seconds_all_units"] > 0

    fresh_calls = []
    straight = runner.run(_toy(fresh_calls), out_dir=tmp_path / "b", progress=False)
    assert straight["table"] == resumed["table"] == [{"units": 5, "sum": sum(i * i for i in range(15)),
                                                      "sum (paper)": 42}]


def test_result_files_hold_table_paper_figures_and_setting(tmp_path):
    rec = runner.run(_toy([]), out_dir=tmp_path, progress=False, n=2)
    folder = tmp_path / "testing"
    md = (folder / "toy.md").read_text()
    assert md.startswith("# Toy (Table 0)\n") and "quick" not in md.split("## Setting")[0].lower()
    assert "| units | sum | sum (paper) |" in md and "toy setting" in md
    assert (folder / "toy.csv").read_text().splitlines()[0] == "units,sum,sum (paper)"
    saved = json.loads((folder / "toy.json").read_text())
    assert saved["settings"] == {"n": 2, "seed": 0} and saved["quick"] is False
    assert saved["key"] == "testing/toy"
    assert {"tensorflow", "keras", "tf_keras_vis"} <= set(saved["versions"])
    assert rec["table"][0]["sum"] == 0 + 1 + 4 + 9 + 16 + 25
    assert rec["files"] == {s: str(folder / f"toy.{s}") for s in ("md", "csv", "json")}


def test_quick_run_never_touches_the_full_result(tmp_path):
    calls = []
    runner.run(_toy(calls), out_dir=tmp_path, progress=False)
    full = {p.name: p.read_bytes() for p in (tmp_path / "testing").glob("toy.*")}
    assert sorted(full) == ["toy.csv", "toy.json", "toy.md"]

    rec = runner.run(_toy(calls), out_dir=tmp_path, quick=True, progress=False)
    assert {p.name: p.read_bytes() for p in (tmp_path / "testing").glob("toy.*")} == full
    quick = tmp_path / "testing" / "quick"
    assert runner.results_folder(_toy([]), tmp_path, quick=True) == quick
    assert rec["files"]["md"] == str(quick / "toy.md")
    md = (quick / "toy.md").read_text()
    assert md.startswith("# Toy (Table 0) (quick run)\n")
    assert 'Quick run (--quick): a smoke-size setting {"n": 2}' in md
    saved = json.loads((quick / "toy.json").read_text())
    assert saved["quick"] is True and saved["settings"] == {"n": 2, "seed": 0}
    assert saved["table"][0]["sum"] == sum(i * i for i in range(6))
    assert calls == [0, 1, 2, 3, 4, 0, 1]


def test_quick_checkpoints_are_separate_even_for_the_same_setting(tmp_path):
    calls = []
    same = dataclasses.replace(_toy(calls), quick={})  # quick changes nothing: same setting hash
    runner.run(same, out_dir=tmp_path, progress=False)
    runner.run(same, out_dir=tmp_path, quick=True, progress=False)
    assert calls == [0, 1, 2, 3, 4] * 2  # the quick run did not reuse the full run's units
    assert list((tmp_path / "testing" / ".checkpoints").iterdir()) != []
    assert list((tmp_path / "testing" / "quick" / ".checkpoints").iterdir()) != []


def test_changed_setting_does_not_reuse_checkpoints(tmp_path):
    calls = []
    runner.run(_toy(calls), out_dir=tmp_path, progress=False, n=2)
    runner.run(_toy(calls), out_dir=tmp_path, progress=False, n=3)
    assert calls == [0, 1, 0, 1, 2]
    runner.run(_toy(calls), out_dir=tmp_path, progress=False, n=3, fresh=True)
    assert calls[-3:] == [0, 1, 2]


def test_unknown_setting_rejected():
    with pytest.raises(ValueError, match=r"unknown settings for experiment 'toy': \['modle'\]"):
        runner.run(_toy([]), modle="x")


def test_script_main_runs_quick_into_the_quick_folder(tmp_path, capsys):
    rec = runner.script_main(_toy([]), "toy", ["--quick", "--out", str(tmp_path)])
    record = logging.LogRecord("tensorflow", logging.WARNING, __file__, 1,
                               "5 out of the last 9 calls to <function f> triggered tf.function retracing.", None, None)
    assert not all(f.filter(record) for f in logging.getLogger("tensorflow").filters)  # experiment output stays clean
    assert rec["quick"] and (tmp_path / "testing" / "quick" / "toy.md").exists()
    assert "wrote" in capsys.readouterr().out
