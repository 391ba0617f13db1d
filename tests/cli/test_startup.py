"""Start-up: help and argument errors answer without TensorFlow; its start-up lines never reach the user."""

import subprocess
import sys
import textwrap

from keras_advinterp import attacks, data, defenses, interpret
from keras_advinterp.cli import _catalog, _common


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_help_and_argument_errors_do_not_import_tensorflow():
    done = _run_python("""
        import sys
        from keras_advinterp.cli import build_parser
        for argv in (["--help"], ["attack", "--help"], ["explain", "--help"], ["attack", "--attack", "nope"],
                     ["attack", "--eps", "lots"], ["experiment", "--limit", "x"]):
            try:
                build_parser().parse_args(argv)
            except SystemExit:
                pass
        print("TF_IMPORTED" if "tensorflow" in sys.modules else "NO_TF")
    """)
    assert done.stdout.strip().endswith("NO_TF"), done.stdout[-500:] + done.stderr[-500:]
    assert "invalid choice: 'nope'" in done.stderr and "8/255" in done.stderr


def test_help_lists_every_command_attack_and_method():
    out = subprocess.run([sys.executable, "-m", "keras_advinterp.cli", "--help"], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    for command in ("demo", "attack", "explain", "models", "experiment"):
        assert command in out
    attack_help = subprocess.run([sys.executable, "-m", "keras_advinterp.cli", "attack", "--help"],
                                 capture_output=True, text=True, check=True, timeout=120).stdout
    for name in attacks.REGISTRY:
        assert f"\n  {name} " in attack_help.split("attacks:")[1], name


def test_tensorflow_start_up_lines_do_not_reach_the_user():
    done = subprocess.run([sys.executable, "-m", "keras_advinterp.cli", "models"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    for noise in ("oneDNN", "absl::InitializeLog", "cpu_feature_guard", "rebuild TensorFlow"):
        assert noise not in done.stderr + done.stdout
    assert "shapes" in done.stdout


def test_retracing_warnings_do_not_reach_cli_users():
    done = _run_python("""
        from keras_advinterp._quiet import import_tensorflow_quietly
        tf = import_tensorflow_quietly()
        tf.get_logger().warning("5 out of the last 9 calls to <function f> triggered tf.function retracing.")
        tf.get_logger().warning("another warning stays")
    """)
    assert done.returncode == 0, done.stderr
    assert "retracing" not in done.stderr and "another warning stays" in done.stderr


def test_catalog_matches_the_registries():
    def first_line(cls):
        return (cls.__doc__ or "").strip().splitlines()[0]

    assert _catalog.ATTACKS == {name: first_line(cls) for name, cls in attacks.REGISTRY.items()}
    assert _catalog.INTERPRETERS == {name: first_line(cls) for name, cls in interpret.REGISTRY.items()}
    assert _catalog.DETECTORS == {name: first_line(cls) for name, cls in defenses.REGISTRY.items()}
    assert _common.RESIZE_CHOICES == data.RESIZE_MODES
