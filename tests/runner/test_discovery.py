"""Experiments are keyed <paper>/<name>; paper folders keep private _ helpers."""

import subprocess
import sys
import textwrap

import pytest

from keras_advinterp import runner

SCRIPT = '''
"""Toy experiment {paper}/{name}."""
from _common import LABEL

from keras_advinterp.runner import Experiment, Table

EXPERIMENT = Experiment(
    name="{name}", paper="{declared}", title=LABEL, defaults={{}},
    prepare=lambda s: {{}}, units=lambda ctx, s: [], run_unit=lambda ctx, s, u: [],
    summarize=lambda rows, s, ctx: Table(rows=[]),
)

if __name__ == "__main__":
    print(EXPERIMENT.key, LABEL)
'''


def _write(root, paper, name, declared=None):
    folder = root / paper
    folder.mkdir(exist_ok=True)
    (folder / "_common.py").write_text(f"LABEL = 'common of {paper}'\n")
    (folder / f"{name}.py").write_text(textwrap.dedent(SCRIPT.format(paper=paper, name=name,
                                                                      declared=declared or paper)))
    return folder / f"{name}.py"


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "experiments"
    root.mkdir()
    _write(root, "alpha", "table1")
    _write(root, "beta", "table1")
    _write(root, "beta", "only_beta")
    (root / "alpha" / "_draft.py").write_text("raise RuntimeError('private files are never loaded')\n")
    return root


def test_keys_are_paper_slash_name_and_private_files_are_skipped(tree):
    assert list(runner.discover(tree)) == ["alpha/table1", "beta/only_beta", "beta/table1"]


def test_each_script_gets_its_own_papers_common_module(tree):
    path_before, modules_before = list(sys.path), set(sys.modules)
    b = runner.load_experiment("beta/table1", tree)
    a = runner.load_experiment("alpha/table1", tree)
    assert (a.key, a.title) == ("alpha/table1", "common of alpha")
    assert (b.key, b.title) == ("beta/table1", "common of beta")
    assert sys.path == path_before and "_common" not in sys.modules
    assert "_common" not in set(sys.modules) - modules_before


def test_a_unique_bare_name_is_enough(tree):
    assert runner.load_experiment("only_beta", tree).key == "beta/only_beta"


def test_an_ambiguous_bare_name_lists_its_candidates(tree):
    with pytest.raises(ValueError, match=r"'table1' is ambiguous: it is \['alpha/table1', 'beta/table1'\]"):
        runner.load_experiment("table1", tree)


def test_an_unknown_name_lists_what_exists(tree):
    with pytest.raises(ValueError, match=r"unknown experiment 'gamma/table1'; available: \['alpha/table1'.*"
                                         r"Received: name='gamma/table1'"):
        runner.load_experiment("gamma/table1", tree)


def test_paper_must_match_the_folder(tree):
    _write(tree, "gamma", "fig2", declared="alpha")
    with pytest.raises(ValueError, match=r"paper folder 'gamma'.*Received: paper='alpha'"):
        runner.load_experiment("gamma/fig2", tree)


def test_a_script_with_a_common_module_also_runs_directly(tree):
    out = subprocess.run([sys.executable, str(tree / "beta" / "table1.py")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "beta/table1 common of beta"


def test_every_repository_experiment_loads_under_its_key():
    found = runner.discover()
    assert "advedge/pgd_interpretation_shift" in found
    assert not [k for k in found if k.split("/")[1].startswith("train_")]  # training scripts live in training/
    for key in found:
        assert runner.load_experiment(key).key == key
    assert runner.load_experiment("pgd_interpretation_shift").paper == "advedge"
