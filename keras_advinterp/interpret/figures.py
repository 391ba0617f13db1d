"""Explanation figures: maps on images, clean vs adversarial, paged into PNGs.

Pages are laid out in inches (no ``tight`` bounding box), so a page's pixel
height is a header plus a fixed pitch per row, rows sit a few pixels apart
(no blank bands), and every text is cut to the width it owns, so neighbours
never overlap.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .overlay import show

DPI = 100
FONT = 8
LINE = 0.15  # inches per text line at FONT points
PANEL = 1.5  # a map panel's width in inches
TEXT_W = 2.1  # the row-text column of the attack layout
MARGIN, GAP_X, GAP_Y = 0.08, 0.06, 0.03  # GAP_Y is 3 px: rows stay visibly apart, with no white band
HEADER = 0.24
SUCCEEDED, FAILED = "#c0392b", "#1e8449"
_ATTACK_ARGS = ("x_adv", "maps_adv", "adv_pred", "adv_conf", "success")


def explanation_figures(path, x, maps, names, *, class_names, labels, clean_pred, clean_conf, x_adv=None,
                        maps_adv=None, adv_pred=None, adv_conf=None, success=None, method: str = "",
                        rows_per_page: int = 16, cols: int = 6) -> list[Path]:
    """Saves explanation maps as PNG pages and returns the written paths.

    With an attack (``x_adv`` and the other adversarial arguments), each
    image is one row: its file name, label, clean and adversarial
    prediction with confidence and whether the attack succeeded, then the
    image, the clean map, the adversarial map and their difference
    (adv - clean: seeds/004_3483dc02f8dd9934.txt, Sec. 2, "saliency difference").
    Without one, the clean maps form a grid of ``cols`` images a row, each
    titled with its file name and prediction.

    Args:
        path: the first page (``name.png``); further pages are
            ``name_2.png``, ``name_3.png``, ...
        x: (N, H, W, C) images in [0, 1], C = 1 or 3.
        maps: (N, H, W) maps in [0, 1] on ``x``.
        names: N file names or paths; only the base name is shown, cut in
            the middle ("…") where it is too long for its place.
        class_names: names of the classifier's classes.
        labels: (N,) true class indices; negative for unknown.
        clean_pred, clean_conf: (N,) top-1 class and its probability on ``x``.
        x_adv, maps_adv, adv_pred, adv_conf, success: the same for the
            adversarial images, and (N,) bool attack success; all or none.
        method: what made the maps, shown in the header ("gradcam on shapes").
        rows_per_page: at most this many rows on one page (image rows, or
            grid rows of ``cols`` images).
        cols: images a row without an attack.

    Returns:
        The written PNG paths, one per page.
    """
    x, maps = np.asarray(x), np.asarray(maps)
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or len(x) == 0:
        raise ValueError(f"x must be a non-empty (N, H, W, 1 or 3) batch. Received: x.shape={x.shape}")
    if maps.shape != x.shape[:3]:
        raise ValueError(f"maps must be (N, H, W) = {x.shape[:3]}. Received: maps.shape={maps.shape}")
    for name, value in (("rows_per_page", rows_per_page), ("cols", cols)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    adversarial = dict(zip(_ATTACK_ARGS, (x_adv, maps_adv, adv_pred, adv_conf, success)))
    given = [k for k, v in adversarial.items() if v is not None]
    if given and len(given) != len(_ATTACK_ARGS):
        raise ValueError(f"give all of {list(_ATTACK_ARGS)} or none. Received: {given}")
    per_image = dict(names=names, labels=labels, clean_pred=clean_pred, clean_conf=clean_conf,
                     **(adversarial if given else {}))
    for key, value in per_image.items():
        if len(value) != len(x):
            raise ValueError(f"{key} must have one entry per image ({len(x)}). Received: len({key})={len(value)}")
    if given and np.shape(x_adv) != x.shape:
        raise ValueError(f"x_adv must have the shape of x {x.shape}. Received: x_adv.shape={np.shape(x_adv)}")
    if given and np.shape(maps_adv) != maps.shape:
        raise ValueError(f"maps_adv must have the shape of maps {maps.shape}. "
                         f"Received: maps_adv.shape={np.shape(maps_adv)}")

    rows = [_row(i, x, maps, names, class_names, labels, clean_pred, clean_conf, adversarial if given else None)
            for i in range(len(x))]
    per_row = 1 if given else cols
    chunks = [rows[s : s + rows_per_page * per_row] for s in range(0, len(rows), rows_per_page * per_row)]
    paths = _page_paths(Path(path), len(chunks))
    for k, (chunk, out) in enumerate(zip(chunks, paths)):
        header = (method, f" (page {k + 1}/{len(chunks)})" if len(chunks) > 1 else "")
        fig = _attack_page(chunk, header) if given else _grid_page(chunk, header, min(cols, len(rows)))
        fig.savefig(out, dpi=DPI)
    return paths


def _row(i, x, maps, names, class_names, labels, clean_pred, clean_conf, adversarial) -> dict:
    """One image's panels and what its text says."""
    cls = lambda c: class_names[int(c)] if 0 <= int(c) < len(class_names) else f"class {int(c)}"  # noqa: E731
    label = int(labels[i])
    row = {"x": x[i], "map": maps[i], "name": os.path.basename(str(names[i]).rstrip("/\\")) or str(names[i]),
           "label": cls(label) if label >= 0 else None,
           "clean": (cls(clean_pred[i]), f" {float(clean_conf[i]):.1%}"),
           "clean_wrong": label >= 0 and int(clean_pred[i]) != label}
    if adversarial is not None:
        row.update(x_adv=adversarial["x_adv"][i], map_adv=adversarial["maps_adv"][i],
                   adv=(cls(adversarial["adv_pred"][i]), f" {float(adversarial['adv_conf'][i]):.1%}"),
                   success=bool(adversarial["success"][i]))
    return row


def _page_paths(path: Path, pages: int) -> list[Path]:
    return [path] + [path.with_name(f"{path.stem}_{k}{path.suffix}") for k in range(2, pages + 1)]


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _panel_size(image, lines: int) -> tuple[float, float]:
    """Panel (width, height) in inches: PANEL wide at the image's aspect, tall enough for ``lines`` of text."""
    h, w = image.shape[:2]
    pw, ph = PANEL, PANEL * h / w
    need = lines * LINE + 0.05
    return (pw * need / ph, need) if ph < need else (pw, ph)


def _width(fig, bold: bool):
    """A function giving a string's drawn width in inches at FONT points."""
    from matplotlib.font_manager import FontProperties

    renderer = fig.canvas.get_renderer()
    font = FontProperties(size=FONT, weight="bold" if bold else "normal")
    return lambda s: renderer.get_text_width_height_descent(s, font, ismath=False)[0] / DPI


def _longest(n: int, fits) -> int:
    """The largest k in [0, n] with ``fits(k)``, for ``fits`` true up to some k and false after."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def _middle_cut(text: str, keep: int) -> str:
    head = math.ceil(keep / 2)
    return text[:head] + "…" + text[len(text) - (keep - head):]


def _fit(fig, text: str, width_in: float, bold: bool = False, prefix: str = "", suffix: str = "") -> str:
    """``prefix + text + suffix`` at most ``width_in`` wide: ``text`` cut in the middle with "…"
    where needed (the prefix and the suffix, a confidence say, are never cut)."""
    width = _width(fig, bold)
    if width(prefix + text + suffix) <= width_in:
        return prefix + text + suffix
    keep = _longest(len(text) - 1, lambda k: width(prefix + _middle_cut(text, k) + suffix) <= width_in)
    return prefix + _middle_cut(text, keep) + suffix


def _wrap(fig, text: str, width_in: float, bold: bool = False, max_lines: int = 2) -> list[str]:
    """``text`` on at most ``max_lines`` lines of ``width_in``; the last is cut in the middle if need be.

    A line breaks after the last ``_``, ``-``, ``.`` or space that fits, if
    that keeps two thirds of it, else at the last character that fits.
    """
    width, lines = _width(fig, bold), []
    while len(lines) < max_lines - 1 and width(text) > width_in:
        cut = max(_longest(len(text), lambda k: width(text[:k]) <= width_in), 1)
        soft = max(text.rfind(c, 0, cut) for c in "_-. ") + 1
        cut = soft if soft > 2 * cut // 3 else cut
        lines, text = lines + [text[:cut]], text[cut:]
    return lines + [_fit(fig, text, width_in, bold)]


def _lines(fig, x_in: float, top_in: float, lines) -> None:
    """Draws ``(text, colour, bold)`` lines top-down from (x_in, top_in), in inches from the top-left."""
    fig_w, fig_h = fig.get_size_inches()
    for j, (text, colour, bold) in enumerate(lines):
        fig.text(x_in / fig_w, 1 - (top_in + j * LINE) / fig_h, text, fontsize=FONT, color=colour,
                 fontweight="bold" if bold else "normal", va="top", ha="left")


def _axes(fig, left_in: float, top_in: float, w_in: float, h_in: float):
    fig_w, fig_h = fig.get_size_inches()
    return fig.add_axes((left_in / fig_w, 1 - (top_in + h_in) / fig_h, w_in / fig_w, h_in / fig_h))


def _attack_page(rows: list[dict], header: tuple[str, str]):
    """One row per image: text column, image, clean map, adversarial map, difference; a colour bar."""
    pw, ph = _panel_size(rows[0]["x"], 6)
    bar_w, bar_labels, text_w = 0.12, 0.45, TEXT_W - GAP_X
    width = 2 * MARGIN + TEXT_W + 4 * (pw + GAP_X) + bar_w + bar_labels
    height = MARGIN + HEADER + len(rows) * (ph + GAP_Y) - GAP_Y + MARGIN
    fig = _figure(width, height)
    top = MARGIN + HEADER
    lefts = [MARGIN + TEXT_W + c * (pw + GAP_X) for c in range(4)]
    titles = ["image", "clean map", "adversarial map", "difference (adv - clean)"]
    _column_titles(fig, [MARGIN, *lefts], [text_w, pw, pw, pw, pw], top, [header, *titles])
    for r, row in enumerate(rows):
        y = top + r * (ph + GAP_Y)
        text = [(line, "black", True) for line in _wrap(fig, row["name"], text_w, bold=True)]
        if row["label"] is not None:
            text.append((_fit(fig, row["label"], text_w, prefix="label: "), "black", False))
        text += [(_fit(fig, row["clean"][0], text_w, False, "clean: ", row["clean"][1]),
                  SUCCEEDED if row["clean_wrong"] else "black", False),
                 (_fit(fig, row["adv"][0], text_w, False, "adversarial: ", row["adv"][1]), "black", False),
                 ("attack succeeded" if row["success"] else "attack failed",
                  SUCCEEDED if row["success"] else FAILED, True)]
        _lines(fig, MARGIN, y, text)
        show(_axes(fig, lefts[0], y, pw, ph), row["x"])
        show(_axes(fig, lefts[1], y, pw, ph), row["x"], row["map"])
        show(_axes(fig, lefts[2], y, pw, ph), row["x_adv"], row["map_adv"])
        ax = _axes(fig, lefts[3], y, pw, ph)
        image = ax.imshow(np.asarray(row["map_adv"]) - np.asarray(row["map"]), cmap="bwr", vmin=-1, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    bar = _axes(fig, lefts[3] + pw + GAP_X, top, bar_w, min(len(rows) * (ph + GAP_Y) - GAP_Y, 3 * ph))
    fig.colorbar(image, cax=bar)
    bar.tick_params(labelsize=FONT)
    return fig


def _grid_page(rows: list[dict], header: tuple[str, str], cols: int):
    """Clean maps as a grid: each cell titled with file name, prediction and (if known) label."""
    pw, ph = _panel_size(rows[0]["x"], 0)
    title_h = (3 if any(r["label"] is not None for r in rows) else 2) * LINE
    n_rows = math.ceil(len(rows) / cols)
    width = 2 * MARGIN + cols * pw + (cols - 1) * GAP_X
    top = MARGIN + (HEADER if any(header) else 0)
    fig = _figure(width, top + n_rows * (title_h + ph + GAP_Y) - GAP_Y + MARGIN)
    if any(header):
        _column_titles(fig, [MARGIN], [width - 2 * MARGIN], top, [header])
    for i, row in enumerate(rows):
        left = MARGIN + (i % cols) * (pw + GAP_X)
        y = top + (i // cols) * (title_h + ph + GAP_Y)
        text = [(_fit(fig, row["name"], pw, True), "black", True),
                (_fit(fig, row["clean"][0], pw, False, "", row["clean"][1]),
                 SUCCEEDED if row["clean_wrong"] else "black", False)]
        if row["label"] is not None:
            text.append((_fit(fig, row["label"], pw, prefix="label: "), "black", False))
        _lines(fig, left, y, text)
        show(_axes(fig, left, y + title_h, pw, ph), row["x"], row["map"])
    return fig


def _column_titles(fig, lefts, widths, top_in: float, titles) -> None:
    """One header line, just above the first row; a title is a string or (cut-able text, kept suffix)."""
    fig_w, fig_h = fig.get_size_inches()
    for left, width, title in zip(lefts, widths, titles):
        text, suffix = (title, "") if isinstance(title, str) else title
        if text or suffix:
            fig.text(left / fig_w, 1 - (top_in - 0.03) / fig_h, _fit(fig, text, width, True, suffix=suffix),
                     fontsize=FONT, fontweight="bold", va="bottom", ha="left")
