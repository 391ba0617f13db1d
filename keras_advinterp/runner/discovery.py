"""Finding experiment scripts on disk and loading them by key.

Scripts live at ``experiments/<paper>/<name>.py`` and are keyed
``<paper>/<name>`` (two papers may both have a ``table1``). Files whose name
starts with ``_`` are never experiments: a paper folder may keep private
helpers there (``_common.py``) that its scripts import as plain top-level
modules (``from _common import ...``). That import works when a script is
run directly (Python puts the script's folder first on ``sys.path``) and
when the runner loads it by path (``load_experiment`` does the same for the
duration of the import, and keeps each paper's helpers apart).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from .experiment import Experiment


def experiments_dir(path=None) -> Path:
    """Where experiment scripts live.

    Looks at ``path``, ``$ADVINTERP_EXPERIMENTS``, ``./experiments`` and the
    source checkout's ``experiments/``, in that order.

    Raises:
        FileNotFoundError: none of them is a folder.
    """
    try:
        here = Path.cwd() / "experiments"
    except FileNotFoundError:  # the working directory was deleted: skip it, not crash
        here = None
    candidates = [path, os.environ.get("ADVINTERP_EXPERIMENTS"), here,
                  Path(__file__).resolve().parents[2] / "experiments"]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    raise FileNotFoundError("no experiments folder found: pass --dir, set ADVINTERP_EXPERIMENTS, "
                            f"or run from a source checkout. Received: path={path!r}")


def discover(path=None) -> dict[str, Path]:
    """Experiment key ``<paper>/<name>`` -> script path, sorted by key.

    Every ``experiments/<paper>/<name>.py`` counts, except files and paper
    folders whose name starts with ``_`` or ``.``.
    """
    root = experiments_dir(path)
    found = {}
    for script in sorted(root.glob("*/*.py")):
        if script.name.startswith(("_", ".")) or script.parent.name.startswith(("_", ".")):
            continue
        found[f"{script.parent.name}/{script.stem}"] = script
    return found


def resolve(name: str, path=None) -> tuple[str, Path]:
    """The ``(key, script)`` that ``name`` means: a full key or a unique bare name.

    Raises:
        ValueError: no experiment has that key or name, or a bare name is
            ambiguous (the message lists the candidates' keys).
    """
    scripts = discover(path)
    if name in scripts:
        return name, scripts[name]
    matches = [] if "/" in name else [k for k in scripts if k.split("/", 1)[1] == name]
    if len(matches) == 1:
        return matches[0], scripts[matches[0]]
    if matches:
        raise ValueError(f"experiment name {name!r} is ambiguous: it is {matches}; "
                         f"pass the full <paper>/<name> key. Received: name={name!r}")
    raise ValueError(f"unknown experiment {name!r}; available: {sorted(scripts)}. Received: name={name!r}")


def load_experiment(name: str, path=None) -> Experiment:
    """Imports the script ``name`` (key or unique bare name) and returns its ``EXPERIMENT``.

    Raises:
        ValueError: unknown or ambiguous name; the script defines no
            ``EXPERIMENT``; or its ``paper`` / ``name`` do not match the
            script's folder / file name.
    """
    key, script = resolve(name, path)
    module = _import_script(script)
    exp = getattr(module, "EXPERIMENT", None)
    if not isinstance(exp, Experiment):
        raise ValueError(f"{script} does not define EXPERIMENT = Experiment(...). "
                         f"Received: EXPERIMENT={type(exp).__name__}")
    paper, stem = key.split("/", 1)
    if exp.paper != paper:
        raise ValueError(f"{script} lives in the paper folder {paper!r} but its Experiment says paper="
                         f"{exp.paper!r}; results would land in the wrong folder. Received: paper={exp.paper!r}")
    if exp.name != stem:
        raise ValueError(f"{script} is named {stem!r} but its Experiment says name={exp.name!r}; "
                         f"the key and the result files would disagree. Received: name={exp.name!r}")
    return exp


def _module_name(script: Path) -> str:
    return f"advinterp_experiment__{script.parent.name}__{script.stem}"


def _import_script(script: Path):
    """Executes ``script`` as a fresh module, with its folder's ``_`` helpers importable.

    During the import the paper folder is first on ``sys.path`` and any
    helper of the same name another paper imported earlier is hidden; after
    it, the helpers this script imported are kept under paper-qualified
    names, so ``advedge/_common`` and ``ding/_common`` never meet.
    """
    folder = str(script.parent)
    private = {p.stem for p in script.parent.glob("_*.py")}
    saved = {m: sys.modules.pop(m) for m in private if m in sys.modules}
    name = _module_name(script)
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(folder)
        for m in private:
            loaded = sys.modules.pop(m, None)
            if loaded is not None:
                sys.modules[_module_name(script.parent / m)] = loaded
        sys.modules.update(saved)
    return module
