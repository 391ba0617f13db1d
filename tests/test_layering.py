"""Dependencies point one way (DESIGN.md): no import reaches up the layering.

Every import inside the package, module-level or inside a function, is
checked against the layer order below; and every subpackage imports on its
own, first, in a fresh interpreter (an import cycle would fail there).
"""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "keras_advinterp"

# Lower layers never import higher ones; one layer's packages never import each other.
LAYERS = [
    {"__init__", "_checks", "_compile", "_tensor", "_batching", "_quiet"},
    {"data"},
    {"models"},
    {"surgery"},
    {"interpret"},
    {"attacks"},
    {"analysis", "defenses", "callbacks", "runner"},
    {"serving", "distribute", "web", "demo"},
    {"cli", "__main__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
BASE = LAYERS[0]


def _unit(module: Path) -> str:
    """The layering unit of a file: its top-level subpackage or module name."""
    rel = module.relative_to(PACKAGE).parts
    return rel[0].removesuffix(".py")


def _imported_units(module: Path):
    tree = ast.parse(module.read_text(), filename=str(module))
    depth = len(module.relative_to(PACKAGE).parts) - 1  # folders below the package root
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: climb to the package root, then read the first part
                if node.level - 1 > depth:
                    continue
                parts = list(module.relative_to(PACKAGE).parts[:depth - (node.level - 1)])
                parts += (node.module or "").split(".") if node.module else []
                if not parts:  # from .. import name: the names are units
                    yield from ((a.name, node.lineno) for a in node.names)
                else:
                    yield parts[0].removesuffix(".py"), node.lineno
            elif node.module and node.module.startswith("keras_advinterp."):
                yield node.module.split(".")[1], node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("keras_advinterp."):
                    yield a.name.split(".")[1], node.lineno


def test_every_unit_has_a_layer():
    units = {_unit(p) for p in PACKAGE.rglob("*.py")}
    assert not units - set(RANK), f"add these to LAYERS (and DESIGN.md): {sorted(units - set(RANK))}"


def test_no_import_points_up():
    bad = []
    for module in sorted(PACKAGE.rglob("*.py")):
        me = _unit(module)
        for other, line in _imported_units(module):
            if other == me or other not in RANK or (me in BASE and other in BASE):
                continue
            if RANK[other] >= RANK[me]:
                bad.append(f"{module.relative_to(PACKAGE.parent)}:{line} ({me}) imports {other}")
    assert not bad, "imports that point up or sideways:\n" + "\n".join(bad)


def test_each_subpackage_imports_first_on_its_own():
    names = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    script = textwrap.dedent(f"""
        import importlib, sys
        failed = []
        for name in {names!r}:
            for key in [k for k in sys.modules if k.startswith("keras_advinterp")]:
                del sys.modules[key]
            try:
                importlib.import_module("keras_advinterp." + name)
            except Exception as e:
                failed.append(f"{{name}}: {{type(e).__name__}}: {{e}}")
        print("FAILED" if failed else "OK", *failed, sep="\\n")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.stdout.startswith("OK"), done.stdout + done.stderr[-2000:]


@pytest.mark.parametrize("line, expected", [
    ("from ..attacks.base import Attack", "attacks"),
    ("from .base import Interpreter", "interpret"),
    ("from .. import attacks", "attacks"),
    ("from keras_advinterp.models import load", "models"),
])
def test_the_import_reader(tmp_path, line, expected, monkeypatch):
    pkg = tmp_path / "keras_advinterp" / "interpret"
    pkg.mkdir(parents=True)
    (pkg / "mod.py").write_text(line + "\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "keras_advinterp")
    assert [u for u, _ in _imported_units(pkg / "mod.py")] == [expected]
