"""Labels for image folders: folder class names matched to a model's classes, and label files.

A folder's classes never become model indices by their sorted order: each
name is matched to the model's ``class_names`` (exactly, then ignoring case,
spaces, ``_`` and ``-``, then as an ImageNet synset id), and names that
match nothing are an error unless their labels may come from predictions.
"""

from __future__ import annotations

import csv
import difflib
import re
from pathlib import Path

from .imagenet import imagenet_class_names, imagenet_synsets

UNMATCHED_POLICIES = ("error", "predict")
_SEPARATORS = re.compile(r"[\s_\-]+")
_SYNSET = re.compile(r"n\d{8}")


def normalize_class_name(name: str) -> str:
    """``'Golden Retriever'``, ``'golden_retriever'``, ``'golden-retriever'`` -> ``'goldenretriever'``."""
    return _SEPARATORS.sub("", str(name)).casefold()


def match_class_names(folder_names, model_names, *, unmatched: str = "error") -> dict[str, int]:
    """Maps each folder class name to an index into ``model_names``.

    Tried in order, the first that finds exactly one model class wins:
    the same name; the same name ignoring case, spaces, ``_`` and ``-``;
    an ImageNet synset id (``n01440764``) when ``model_names`` are the 1000
    ImageNet class names in logit order. A name found twice among the
    model's classes (ImageNet has two ``crane``s) is ambiguous.

    Args:
        folder_names: class names found in the data (sub-folder names or
            names in a labels file).
        model_names: the model's class names, in logit order.
        unmatched: ``"error"`` raises for names that match no class or are
            ambiguous; ``"predict"`` maps them to -1 (the caller then
            labels those images with the model's own predictions).

    Returns:
        ``{folder name: model index}`` (-1 for unmatched names under ``"predict"``).

    Raises:
        ValueError: unmatched or ambiguous names under ``"error"``, listing
            them with the closest model names; or a bad argument.
    """
    check_unmatched(unmatched)
    model_names = [str(n) for n in model_names]
    if not model_names:
        raise ValueError(f"the model has no class names to match folders against. "
                         f"Received: model_names={model_names!r}")
    exact, loose = _positions(model_names, str), _positions(model_names, normalize_class_name)
    synsets = {s: i for i, s in enumerate(imagenet_synsets())} if model_names == imagenet_class_names() else {}
    mapping, problems = {}, []
    for name in folder_names:
        found = exact.get(name) or loose.get(normalize_class_name(name)) or (
            [synsets[name]] if name in synsets else [])
        if len(found) == 1:
            mapping[name] = found[0]
            continue
        mapping[name] = -1
        if len(found) > 1:
            problems.append(f"{name!r} is ambiguous (model classes {', '.join(map(str, found))}"
                            f"{'; use its synset id' if synsets else ''})")
        else:
            close = difflib.get_close_matches(name, model_names, n=3, cutoff=0.6)
            problems.append(f"{name!r}" + (f" (closest: {', '.join(map(repr, close))})" if close else ""))
    if problems and unmatched == "error":
        raise ValueError(_unmatched_message(problems, model_names, bool(synsets), list(folder_names)))
    return mapping


def check_unmatched(unmatched: str) -> None:
    """Raises ValueError unless ``unmatched`` is one of ``UNMATCHED_POLICIES``."""
    if unmatched not in UNMATCHED_POLICIES:
        raise ValueError(f"unmatched must be one of {UNMATCHED_POLICIES}. Received: unmatched={unmatched!r}")


def _positions(names, key) -> dict[str, list[int]]:
    table: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        table.setdefault(key(name), []).append(i)
    return table


def _unmatched_message(problems, model_names, imagenet: bool, folder_names) -> str:
    sample = ", ".join(repr(n) for n in model_names[:8]) + (", ..." if len(model_names) > 8 else "")
    hint = " or ImageNet synset ids (n01440764)" if imagenet else ""
    return (f"{len(problems)} folder class name(s) match none of the model's {len(model_names)} classes: "
            f"{'; '.join(problems[:20])}{'; ...' if len(problems) > 20 else ''}. The model's classes are "
            f"{sample}. Rename the folders to the model's class names (case, spaces, '_' and '-' do not "
            f"matter){hint}, or use `--labels predicted` (unmatched='predict') to attack the model's own "
            f"predictions instead. Received: folder_names={folder_names!r}")


def read_labels_table(path) -> dict[str, str]:
    """Reads a labels file: ``{relative file path: label text}``.

    Lines are CSV (``file,label[,...]``) or whitespace-separated
    (``file label``). A header line whose first cell is ``file``,
    ``filename`` or ``image`` is skipped; if it names a ``label`` column,
    that column is read, otherwise the second. Paths are posix, relative to
    the folder root (``circle/img0.png``); ``\\`` and a leading ``./`` are
    normalised away.
    """
    table, column = {}, 1
    with open(path, newline="") as fh:
        for row in csv.reader(fh):
            if len(row) == 1:
                row = row[0].split()
            row = [cell.strip() for cell in row]
            if not row or not row[0]:
                continue
            if row[0].lower() in ("filename", "file", "image"):
                column = row.index("label") if "label" in row else 1
                continue
            if len(row) > column:
                table[relative_key(row[0])] = row[column]
    return table


def relative_key(path) -> str:
    """A file's key in a labels table: posix path relative to the folder root."""
    text = str(path).replace("\\", "/")
    return text[2:] if text.startswith("./") else text


def is_index(text: str) -> bool:
    """Whether a label cell is a class index (``3``, ``-1``) rather than a class name."""
    return text.lstrip("-").isdigit()


def lookup(table: dict[str, str], rel: str):
    """The label text for ``rel`` (``dog/a.png``), also tried without its suffix; None if absent."""
    found = table.get(rel)
    return found if found is not None else table.get(str(Path(rel).with_suffix("").as_posix()))
