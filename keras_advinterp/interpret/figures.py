"""Figures people would rather look at than read: maps on images, clean vs adversarial."""

from __future__ import annotations

import numpy as np

from .overlay import show


def explanation_figure(path, x, maps, titles, *, x_adv=None, maps_adv=None, method: str = "",
                       cols: int = 8) -> None:
    """Saves a PNG: maps on images; with ``x_adv``, one row per image with
    clean map, adversarial map and the saliency difference (adv - clean, as AdVis shows it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(x)
    if x_adv is None:
        cols = min(cols, n)
        rows = int(np.ceil(n / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.2 * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for i, ax in enumerate(axes.flat[:n]):
            show(ax, x[i], maps[i], title=titles[i])
    else:
        fig, axes = plt.subplots(n, 4, figsize=(8.4, 2.2 * n), squeeze=False)
        for i in range(n):
            show(axes[i, 0], x[i], title=titles[i])
            show(axes[i, 1], x[i], maps[i], title=f"{method} clean")
            show(axes[i, 2], x_adv[i], maps_adv[i], title=f"{method} adversarial")
            diff = maps_adv[i] - maps[i]
            im = axes[i, 3].imshow(diff, cmap="bwr", vmin=-1, vmax=1)
            axes[i, 3].set_xticks([])
            axes[i, 3].set_yticks([])
            axes[i, 3].set_title("difference (adv - clean)", fontsize=8)
        fig.colorbar(im, ax=axes[:, 3].tolist(), shrink=0.6)
    fig.suptitle(method)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
