"""Text options for a user's model: preprocessing, input range, class names.

The command line passes these as strings (``--preprocess "mean=0.49,0.48,0.45
std=0.25,0.24,0.26"``, ``--input-range 0-255``, ``--classes names.txt``);
``models.load`` and ``models.from_keras`` accept the same strings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .layers import PREPROCESSING_MODES

# Multiplier from raw pixels in [0, 1] to the range a model expects.
INPUT_RANGES = {"0-1": 1.0, "0-255": 255.0}


@dataclass(frozen=True)
class MeanStd:
    """``(x - mean) / std`` per channel, in the units of the model's input range.

    Each of ``mean`` and ``std`` has one value per channel or one for all.
    """

    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)

    def __str__(self) -> str:
        return f"mean={','.join(f'{v:g}' for v in self.mean)} std={','.join(f'{v:g}' for v in self.std)}"


def parse_preprocess(text: str) -> str | MeanStd:
    """Reads a preprocessing option: a mode name or ``"mean=R,G,B std=R,G,B"``.

    Args:
        text: ``none``, ``caffe``, ``tf``, ``torch`` (``keras.applications``'
            modes), or ``mean=...`` and/or ``std=...`` with 1 or 3
            comma-separated numbers each (a missing mean is 0, a missing
            std 1), e.g. ``"mean=0.4914,0.4822,0.4465 std=0.247,0.243,0.261"``.

    Returns:
        The mode name, or a ``MeanStd``.

    Raises:
        ValueError: anything else, naming the part that is wrong.
    """
    if not isinstance(text, str):
        raise ValueError(f"preprocess must be text. Received: preprocess={text!r}")
    stripped = text.strip()
    if stripped.lower() in PREPROCESSING_MODES:
        return stripped.lower()
    usage = (f"preprocess must be one of {PREPROCESSING_MODES} or 'mean=R,G,B std=R,G,B' "
             f"(1 or 3 numbers each)")
    parts = re.split(r"([A-Za-z_]+)\s*=", stripped)
    if len(parts) < 3 or parts[0].strip():
        raise ValueError(f"{usage}. Received: preprocess={text!r}")
    values = {}
    for key, raw in zip(parts[1::2], parts[2::2]):
        key = key.lower()
        if key not in ("mean", "std"):
            raise ValueError(f"{usage}; {key!r} is not 'mean' or 'std'. Received: preprocess={text!r}")
        if key in values:
            raise ValueError(f"{usage}; {key!r} is given twice. Received: preprocess={text!r}")
        values[key] = _numbers(raw, key, text, usage)
    std = values.get("std", (1.0,))
    if any(s <= 0 for s in std):
        raise ValueError(f"std values must be positive. Received: preprocess={text!r}")
    return MeanStd(values.get("mean", (0.0,)), std)


def _numbers(raw: str, key: str, text: str, usage: str) -> tuple[float, ...]:
    items = [v for v in re.split(r"[,\s]+", raw.strip()) if v]
    try:
        numbers = tuple(float(v) for v in items)
    except ValueError:
        raise ValueError(f"{usage}; {key} has a value that is not a number: {raw.strip()!r}. "
                         f"Received: preprocess={text!r}") from None
    if len(numbers) not in (1, 3):
        raise ValueError(f"{usage}; {key} has {len(numbers)} values. Received: preprocess={text!r}")
    return numbers


def range_scale(input_range: str | None) -> float | None:
    """The factor from [0, 1] pixels to ``input_range`` (``"0-1"`` or ``"0-255"``); None stays None."""
    if input_range is None:
        return None
    key = str(input_range).strip().replace(" ", "").replace("..", "-")
    if key not in INPUT_RANGES:
        raise ValueError(f"input_range must be one of {sorted(INPUT_RANGES)}. Received: input_range={input_range!r}")
    return INPUT_RANGES[key]


def read_class_names(path, num_classes: int | None = None) -> list[str]:
    """Class names from a file: a JSON list of strings, or one name per line.

    Blank lines and surrounding spaces are dropped.

    Args:
        path: the file.
        num_classes: when given, the number of names the file must hold.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a list of names, an empty name in the JSON list, or
            the wrong count; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"class names file does not exist. Received: path={str(path)!r}")
    text = path.read_text(encoding="utf-8-sig")
    if text.strip() and (text.lstrip().startswith(("[", "{")) or path.suffix.lower() == ".json"):
        try:
            names = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"class names file {str(path)!r} is not valid JSON ({e}). "
                             f"Received: path={str(path)!r}") from None
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise ValueError(f"class names file {str(path)!r} must hold a JSON list of non-empty strings. "
                             f"Received: {type(names).__name__} {str(names)[:80]}")
        names = [n.strip() for n in names]
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise ValueError(f"class names file {str(path)!r} holds no names. Received: path={str(path)!r}")
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(f"class names file {str(path)!r} has {len(names)} names but the model has "
                         f"{num_classes} outputs. Received: path={str(path)!r}")
    return names
