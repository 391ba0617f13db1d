"""Arrays to what the page shows: PNG data URLs, top-5 lists, JSON-ready views."""

from __future__ import annotations

import base64
import io

import numpy as np

from ..models.classifier import softmax

TOP_K = 5


def _rgb8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def png(image: np.ndarray, *, scale_to: int | None = None) -> str:
    """``data:image/png;base64,...`` of an (H, W[, C]) float image in [0, 1] (fast, lossless).

    ``scale_to`` shrinks the long side to at most that many pixels (thumbnails).
    """
    from PIL import Image

    im = Image.fromarray(_rgb8(image))
    if scale_to is not None and max(im.size) > scale_to:
        im.thumbnail((scale_to, scale_to), Image.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def heat_overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """``interpret.overlay`` (jet colour map) as (H, W, 3) in [0, 1]."""
    from ..interpret import overlay

    return overlay(image, heatmap, alpha=alpha)


def diverging(values: np.ndarray) -> np.ndarray:
    """(H, W) values in [-1, 1] -> RGB: blue negative, white zero, red positive."""
    v = np.clip(np.asarray(values, np.float32), -1.0, 1.0)[..., None]
    white, red, blue = np.ones(3, np.float32), np.asarray([0.85, 0.1, 0.1]), np.asarray([0.1, 0.25, 0.85])
    return np.where(v >= 0, white + v * (red - white), white - v * (blue - white))


def amplified(delta: np.ndarray) -> tuple[np.ndarray, float]:
    """A perturbation stretched to the full grey range around 0.5, and the factor used."""
    peak = float(np.abs(delta).max())
    factor = 0.5 / peak if peak > 0 else 1.0
    return 0.5 + delta * factor, factor


def top_k(logits: np.ndarray, class_names, k: int = TOP_K) -> list[dict]:
    """The ``k`` best classes as ``{index, name, p}``, p in percent (as AdVis shows scores)."""
    p = softmax(np.asarray(logits, np.float64))
    idx = np.argsort(-p)[:k]
    return [{"index": int(i), "name": class_names[i], "p": round(100.0 * float(p[i]), 2)} for i in idx]


def _prediction(logits, class_names, label) -> dict:
    top = top_k(logits, class_names)
    return {"top5": top, "pred": top[0]["index"], "pred_name": top[0]["name"], "changed": top[0]["index"] != label}


def attack_view(v: dict) -> dict:
    """The JSON answer to one slider position (``Engine._attack_view`` fills ``v``)."""
    names, label, x, x_adv = v["class_names"], v["label"], v["x"], v["x_adv"]
    delta = x_adv - x
    amp, factor = amplified(delta)
    linf = float(np.abs(delta).max())
    out = {
        "model": v["model"], "attack": v["attack"], "eps": v["eps"], "eps_255": round(v["eps"] * 255, 3),
        "label": {"index": label, "name": names[label], "source": "the model's clean top-1"},
        "clean": _prediction(v["clean_logits"], names, label),
        "adversarial": _prediction(v["adv_logits"], names, label),
        "perturbation": {"linf": linf, "linf_255": round(linf * 255, 3), "amplification": round(factor, 2),
                         "l2": float(np.sqrt((delta.astype(np.float64) ** 2).sum()))},
        "images": {"clean": png(x), "adversarial": png(x_adv), "perturbation": png(amp)},
        "cam": None, "saliency": None, "transfer": None,
    }
    if "cam" in v:
        c = v["cam"]
        out["cam"] = {"method": c["method"], "class": {"index": c["class"], "name": names[c["class"]]},
                      "clean": png(heat_overlay(x, c["clean"])),
                      "adversarial": png(heat_overlay(x_adv, c["adversarial"])),
                      "shift_l1": round(float(np.abs(c["adversarial"] - c["clean"]).mean()), 4)}
    if "saliency" in v:
        s = v["saliency"]
        diff = s["adversarial"] - s["clean"]
        out["saliency"] = {"clean": png(heat_overlay(x, s["clean"])),
                           "adversarial": png(heat_overlay(x_adv, s["adversarial"])),
                           "difference": png(diverging(diff)),
                           "mean_abs_difference": round(float(np.abs(diff).mean()), 4),
                           "changed_area": round(float((np.abs(diff) > 0.1).mean()), 4)}
    if "transfer" in v:
        t = v["transfer"]
        clean_pred = int(np.argmax(t["clean_logits"]))
        pred = _prediction(t["logits"], names, label)
        out["transfer"] = {"model": t["model"], "clean_top5": top_k(t["clean_logits"], names), **pred,
                           "fooled": pred["pred"] != clean_pred}
    return out


def deepfool_view(r: dict, prep: dict, class_names, eps, fgsm_pred) -> dict:
    """DeepFool's minimal perturbation against the slider's eps (and whether FGSM flips at that eps)."""
    amp, factor = amplified(r["delta"])
    label = prep["label"]
    out = {"success": r["success"], "iterations": r["iterations"], "linf": r["linf"],
           "linf_255": round(r["linf"] * 255, 3), "l2": r["l2"], "label": {"index": label, "name": class_names[label]},
           "adversarial": _prediction(r["logits"], class_names, label),
           "images": {"adversarial": png(r["x_adv"]), "perturbation": png(amp)}, "amplification": round(factor, 2)}
    if eps is not None:
        out["eps"], out["eps_255"] = eps, round(eps * 255, 3)
        out["eps_over_minimal"] = round(eps / r["linf"], 3) if r["linf"] > 0 else None
        out["fgsm_at_eps"] = {"pred": fgsm_pred, "pred_name": class_names[fgsm_pred], "changed": fgsm_pred != label}
    return out
