"""ImageNet class names (shipped with the package: no network needed)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

INDEX_FILE = Path(__file__).parent / "imagenet_class_index.json"


@lru_cache(maxsize=1)
def imagenet_class_index() -> list[tuple[str, str]]:
    """The 1000 (WordNet id, name) pairs in logit order."""
    with open(INDEX_FILE) as fh:
        table = json.load(fh)
    return [tuple(table[str(i)]) for i in range(len(table))]


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet class names in logit order (``tench``, ``goldfish``, ...)."""
    return [name for _, name in imagenet_class_index()]


def imagenet_synsets() -> list[str]:
    """The 1000 WordNet ids in logit order (``n01440764``, ...)."""
    return [wnid for wnid, _ in imagenet_class_index()]
