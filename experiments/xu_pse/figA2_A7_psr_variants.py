"""Xu et al., Figs. A2, A3, A4, A5 and A7: PSR over CAM for attacks, images, two-object images and Fig. 8's images.

The appendix variants of Figs. 4-5 (seeds/001_13ab3436c62e81d7.txt,
Appendix, Figs. A2-A5, A7): each draws F(x0, t0), x0, F(x', t) and the PSR
of the most sensitive perturbed grids over F(x', t) (white suppression
r < -1, black promotion r > 1, grey balance), and we count what the paper
only shows. One unit per figure:

- A2: one natural image, C&W, EAD, Str and IFGSM to the same target: PSR
  counts per attack, the share of suppression grids in B(x0, t0), and the
  grids all four attacks rank among their most sensitive ("common and
  essential perturbed pixels");
- A3: several images of one source class, C&W to one fixed target: the same
  counts per image and how consistent they are;
- A4: an image holding an object of the true and one of the target class
  (composed offline from two shapes test images), C&W vs Str: suppression
  on the true object, promotion on the target object;
- A5: the test images with the most textured backgrounds, four attacks;
- A7: the images and targeted PGD examples of Fig. 8 (fig8_segmentation).

Shown grids: the top ``top_share`` (70 %) by s of the *perturbed* grids
(the paper's "most significant perturbed grids"; a group-sparse attack
leaves most grids untouched, and an untouched grid has r = 0).

    advinterp experiment xu_pse/figA2_A7_psr_variants [--quick]
    python experiments/xu_pse/figA2_A7_psr_variants.py --quick
"""

from __future__ import annotations

import itertools

import fig8_segmentation as fig8
import numpy as np
from _common import (
    ATTACK_LABEL,
    ATTACKS,
    DEFAULTS,
    QUICK,
    SOURCE,
    draw_psr,
    main,
    make_attack,
    prepare,
    psr_legend,
    setting_notes,
    targets,
)

from keras_advinterp import data, interpret
from keras_advinterp.analysis import pse
from keras_advinterp.runner import Experiment, Table, cached_attack

TITLE = "PSR over CAM across attacks, images, two-object and textured images, Fig. 8's images (Xu et al., A2-A5, A7)"
FIGURES = ("A2", "A3", "A4", "A5", "A7")
A2_ORDER = ("cw", "ead", "str", "ifgsm")  # the paper's row order
DEFAULTS = {**DEFAULTS, "models": ["shapes"], "top_share": 0.7, "psr_threshold": 1.0, "object_share": 0.25,
            "a3_images": 4, "a4_images": 6, "a5_images": 3, "fig8": {**fig8.DEFAULTS}}
QUICK = {**QUICK, "models": ["shapes"], "a3_images": 2, "a4_images": 1, "a5_images": 1,
         "fig8": {**fig8.DEFAULTS, **fig8.QUICK}}

# what the paper says each figure shows (its captions and Appendix text)
PAPER = {
    "A2": "'plow' -> 'bathtub' under C&W, EAD, Str, IFGSM: common and essential perturbed pixels suppress the "
          "true label's discriminative region; different attacks boost the target in different regions",
    "A3": "several 'bald eagle' -> 'hen' C&W examples: a similar pattern on every image; balance-dominated "
          "grids on the eagle's discriminative region (only its face perturbed)",
    "A4": "'hamster' -> 'cup', both objects in the image: suppression on the true object's region, promotion on "
          "the target's; Str more effective than C&W since it perturbs only a few grids",
    "A5": "complex backgrounds, four attacks: an effective attack (Str) perturbs fewer, more meaningful pixels, "
          "matching the discriminative regions of the true and target classes better",
    "A7": "Fig. 8's images: the suppressed region (white) matches the true object concept's activation, the "
          "promoted region (black) the target concept's",
}


# -- shared measures ----------------------------------------------------------------------------
def shown_grids(sens: pse.GridSensitivity, share: float) -> np.ndarray:
    """(N, m) bool: per image the top ``share`` of its perturbed grids by s (at least one)."""
    s = np.where(sens.perturbed, sens.s, -1.0)
    out = np.zeros(s.shape, bool)
    for j in range(len(s)):
        k = max(1, int(round(share * sens.perturbed[j].sum())))
        out[j, np.argsort(-s[j], kind="stable")[:k]] = True
    return out & sens.perturbed if sens.perturbed.any() else out


def grid_region(layout, masks, share: float) -> np.ndarray:
    """(N, m) bool: grids with at least ``share`` of their pixels in the (N, H, W) masks."""
    return layout.blocks(np.asarray(masks, np.float32)[..., None]).mean(2) >= share


def _share(sel, region):
    return float(region[sel].mean()) if sel.any() else None


def psr_rows(clf, cam, x, x_adv, y, t, s, object_masks=None, extra_masks=None):
    """Per image: the sensitivity, shown grids, PSR classes and their counts / CAM-region and object shares.

    ``extra_masks`` maps a name to (N, H, W) masks whose grid regions get shares of their own.
    """
    sens = pse.grid_sensitivity(clf, x, x_adv, y, t, grids=s["grids"], xi=s["xi"], chunk=s["batch_size"])
    shown = shown_grids(sens, s["top_share"])
    classes = sens.classes(s["psr_threshold"])
    layout = sens.layout
    cam0, camt = cam(x, y), cam(x_adv, t)
    b_nat = grid_region(layout, pse.cam_region_at(cam0, s["cam_quantile"]), 0.5)
    b_adv = grid_region(layout, pse.cam_region_at(camt, s["cam_quantile"]), 0.5)
    regions = {}
    if object_masks is not None:
        regions["object"] = grid_region(layout, object_masks, s["object_share"])
    for name, masks in (extra_masks or {}).items():
        regions[name] = grid_region(layout, masks, s["object_share"])
    delta = np.asarray(x_adv, np.float64) - np.asarray(x, np.float64)
    is0 = pse.interpretability_score(delta, pse.cam_region_at(cam0, s["cam_quantile"]))
    ist = pse.interpretability_score(delta, pse.cam_region_at(camt, s["cam_quantile"]))
    rows = []
    for j in range(len(x)):
        sup, bal, pro = (shown[j] & (classes[j] == c) for c in (pse.SUPPRESSION, pse.BALANCE, pse.PROMOTION))
        n = int(shown[j].sum())
        r = {"true": clf.class_names[y[j]], "target": clf.class_names[t[j]],
             "perturbed grids": int(sens.perturbed[j].sum()), "l2": float(np.sqrt(np.square(delta[j]).sum())),
             "shown grids": n, "suppression": int(sup.sum()), "balance": int(bal.sum()), "promotion": int(pro.sum()),
             "suppression share": int(sup.sum()) / n, "balance share": int(bal.sum()) / n,
             "promotion share": int(pro.sum()) / n,
             "suppression in B(x0,t0)": _share(sup, b_nat[j]), "balance in B(x0,t0)": _share(bal, b_nat[j]),
             "shown in B(x0,t0)": _share(shown[j], b_nat[j]),
             "promotion in B(x',t)": _share(pro, b_adv[j]), "shown in B(x',t)": _share(shown[j], b_adv[j]),
             "IS (x0, t0)": float(is0[j]), "IS (x', t)": float(ist[j])}
        for name, reg in regions.items():
            r[f"suppression on {name}"] = _share(sup, reg[j])
            r[f"promotion on {name}"] = _share(pro, reg[j])
            r[f"shown on {name}"] = _share(shown[j], reg[j])
        r["_shown"] = np.flatnonzero(shown[j]).tolist()
        r["_suppression"] = np.flatnonzero(sup).tolist()
        r["_promotion"] = np.flatnonzero(pro).tolist()
        rows.append(r)
    return rows, {"sens": sens, "shown": shown, "classes": classes, "cam0": cam0, "camt": camt}


def jaccard(a, b):
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else None


def mean_of(values):
    v = [x for x in values if x is not None and not (isinstance(x, float) and np.isnan(x))]
    return float(np.mean(v)) if v else None


def fmt(v, spec=".2f"):
    return "n/a" if v is None else format(v, spec)


# -- prepare ------------------------------------------------------------------------------------
def prepare_all(s):
    for key in ("a3_images", "a4_images", "a5_images"):
        if not isinstance(s[key], int) or s[key] < 1:
            raise ValueError(f"{key} must be an integer >= 1. Received: {key}={s[key]!r}")
    ctx = prepare(s, kinds=ATTACKS)
    m = ctx["models"][s["models"][0]]
    # the object masks of the kept images (prepare_model keeps the correctly classified ones)
    d = data.load(m["data_name"] if s["data"] == "default" else s["data"], "test", limit=s["limit"], seed=s["seed"])
    if d.masks is None:
        raise ValueError(f"Figs. A3-A5 need object masks (the shapes set has them). Received: data={s['data']!r}")
    keep = m["clf"].predict(d.x, batch_size=s["batch_size"]).argmax(1) == d.y
    m["masks"] = d.masks[keep]
    m["all_ok"] = np.logical_and.reduce([m["results"][k].success for k in ATTACKS])
    if not m["all_ok"].any():
        raise ValueError("no image was taken to its target by all four attacks: raise limit or the attacks' steps")
    ctx["_built"] = {}
    return ctx


def built(ctx, s, which):
    """The figure's examples, rows and drawing data (made once per process; run_unit and the figure share it)."""
    if which not in ctx["_built"]:
        ctx["_built"][which] = BUILDERS[which](ctx, s)
    return ctx["_built"][which]


def _model(ctx, s):
    return ctx["models"][s["models"][0]]


def _attack_examples(m, s, idx, kinds):
    """rows and drawing data of the cached attacks' examples ``idx`` (all successful), per attack."""
    out = {}
    for k in kinds:
        res = m["results"][k]
        rows, draw = psr_rows(m["clf"], m["cam"], m["x"][idx], res.x_adv[idx], m["y"][idx], m["t"][idx], s,
                              object_masks=m["masks"][idx])
        out[k] = {"rows": rows, "draw": draw, "x": m["x"][idx], "x_adv": res.x_adv[idx], "y": m["y"][idx],
                  "t": m["t"][idx], "idx": idx}
    return out


def build_a2(ctx, s):
    m = _model(ctx, s)
    every = np.flatnonzero(m["all_ok"])
    per = _attack_examples(m, s, every, A2_ORDER)  # every image all four attacks reached: the shown one is the first
    stats = []
    for j in range(len(every)):
        sets = {k: per[k]["rows"][j] for k in A2_ORDER}
        common = set.intersection(*(set(r["_shown"]) for r in sets.values()))
        sup_j = [jaccard(sets[a]["_suppression"], sets[b]["_suppression"]) for a, b in itertools.combinations(sets, 2)]
        pro_j = [jaccard(sets[a]["_promotion"], sets[b]["_promotion"]) for a, b in itertools.combinations(sets, 2)]
        grids = per["cw"]["draw"]["sens"].layout.m
        chance = grids * np.prod([len(r["_shown"]) / grids for r in sets.values()])
        stats.append({"common": sorted(common), "chance": float(chance),
                      "sup jaccard": mean_of(sup_j), "pro jaccard": mean_of(pro_j),
                      "common suppression": {k: (len(common & set(r["_suppression"])) / len(common) if common else None)
                                             for k, r in sets.items()}})
    return {"per": per, "stats": stats, "every": every}


def build_a3(ctx, s):
    m = _model(ctx, s)
    counts = np.bincount(m["y"], minlength=m["clf"].num_classes)
    source = int(np.argmax(counts))
    target = int(targets(np.array([source]), m["clf"].num_classes, s["seed"])[0])
    idx = np.flatnonzero(m["y"] == source)[: s["a3_images"]]
    x, y = m["x"][idx], m["y"][idx]
    t = np.full(len(idx), target, np.int32)
    res = cached_attack(make_attack("cw", s), m["clf"], x, y, t, seed=s["seed"], batch_size=s["batch_size"])
    ok = res.success
    out = {"idx": idx, "success": ok, "source": source, "target": target, "rows": [], "draw": None}
    if ok.any():
        out["rows"], out["draw"] = psr_rows(m["clf"], m["cam"], x[ok], res.x_adv[ok], y[ok], t[ok], s,
                                            object_masks=m["masks"][idx][ok])
        out.update(x=x[ok], x_adv=res.x_adv[ok], y=y[ok], t=t[ok], shown_idx=idx[ok])
    return out


def compose_pairs(m, s):
    """Two-object images: image a's object stays, image b's object (cut out by its mask) is shifted beside it.

    Pairs of correctly classified test images of different classes whose objects fit side by side without
    sharing a grid row-column cell; the composite keeps a's background and size (64 x 64, the model input, so
    nothing is resized). True label: the model's prediction on the composite, which must be a's or b's class;
    target: the other one. Returns up to ``a4_images`` composites with distinct class pairs.
    """
    clf, x, y, masks = m["clf"], m["x"], m["y"], m["masks"]
    cell = x.shape[2] // s["grids"]
    cols = np.array([np.flatnonzero(mk.any(0))[[0, -1]] for mk in masks])  # object column span
    candidates = []
    for a, b in itertools.permutations(range(len(x)), 2):
        if y[a] == y[b]:
            continue
        wb = cols[b, 1] - cols[b, 0] + 1
        gap = 2 * cell  # at least a full grid column between the objects
        right, left = x.shape[2] - (cols[a, 1] + gap + 1), cols[a, 0] - gap
        if right >= wb:
            shift = cols[a, 1] + gap + 1 - cols[b, 0]
        elif left >= wb:
            shift = cols[a, 0] - gap - wb + 1 - cols[b, 0]
        else:
            continue
        candidates.append((a, b, int(shift)))
    out, seen, used = [], set(), set()
    for a, b, shift in candidates:
        pair = frozenset((int(y[a]), int(y[b])))
        if pair in seen or a in used or b in used:
            continue
        mb = np.roll(masks[b], shift, axis=1)
        if (mb & masks[a]).any():
            continue
        img = np.where(mb[..., None], np.roll(x[b], shift, axis=1), x[a]).astype(np.float32)
        pred = int(clf.predict(img[None]).argmax(1)[0])
        if pred not in (y[a], y[b]):
            continue
        true_mask, target_mask = (masks[a], mb) if pred == y[a] else (mb, masks[a])
        out.append({"a": int(a), "b": int(b), "shift": shift, "x": img, "y": pred,
                    "t": int(y[b] if pred == y[a] else y[a]), "true_mask": true_mask, "target_mask": target_mask})
        seen.add(pair)
        used.update((a, b))
        if len(out) == s["a4_images"]:
            break
    return out


def build_a4(ctx, s):
    m = _model(ctx, s)
    comps = compose_pairs(m, s)
    if not comps:
        return {"comps": [], "per": {}}
    x = np.stack([c["x"] for c in comps])
    y = np.array([c["y"] for c in comps], np.int32)
    t = np.array([c["t"] for c in comps], np.int32)
    masks = {"true object": np.stack([c["true_mask"] for c in comps]),
             "target object": np.stack([c["target_mask"] for c in comps])}
    per = {}
    for k in ("cw", "str"):
        res = cached_attack(make_attack(k, s), m["clf"], x, y, t, seed=s["seed"], batch_size=s["batch_size"])
        ok = res.success
        rows, draw = ([], None)
        if ok.any():
            rows, draw = psr_rows(m["clf"], m["cam"], x[ok], res.x_adv[ok], y[ok], t[ok], s,
                                  extra_masks={n: v[ok] for n, v in masks.items()})
        per[k] = {"success": ok, "rows": rows, "draw": draw, "x_adv": res.x_adv}
    return {"comps": comps, "per": per, "x": x, "y": y, "t": t, "masks": masks}


def background_edge_energy(x, masks) -> np.ndarray:
    """Mean Sobel gradient magnitude of the grey image over the background (outside the object dilated by 2 px)."""
    from scipy import ndimage

    grey = np.asarray(x, np.float64).mean(-1)
    out = []
    for g, mk in zip(grey, masks):
        mag = np.hypot(ndimage.sobel(g, 0), ndimage.sobel(g, 1))
        bg = ~ndimage.binary_dilation(mk, iterations=2)
        out.append(float(mag[bg].mean()))
    return np.array(out)


def build_a5(ctx, s):
    m = _model(ctx, s)
    energy = background_edge_energy(m["x"], m["masks"])
    every = np.flatnonzero(m["all_ok"])
    idx = every[np.argsort(-energy[every], kind="stable")[: s["a5_images"]]]
    return {"per": _attack_examples(m, s, idx, A2_ORDER), "energy": energy, "idx": idx, "every": every}


def build_a7(ctx, s):
    s8 = s["fig8"]
    if "fig8" not in ctx:
        ctx["fig8"] = fig8.prepare(s8)
    c8 = ctx["fig8"]
    name = s8["models"][0]
    m8 = c8["models"][name]
    m = _model(ctx, s)
    if name == m["clf"].name and s8["weights"] == s["weights"]:
        m8["clf"] = m["clf"]  # the same model: share its compiled functions
    clf = m8["clf"]
    cam = m["cam"] if clf is m["clf"] else interpret.CAM(clf, batch_size=s["batch_size"])
    out = []
    for i in range(len(m8["pairs"])):
        ex = fig8.example(c8, s8, name, i)
        ok = ex["success"]
        item = {"example": i, "ex": ex, "rows": [], "draw": None}
        if ok.any():
            t = np.full(int(ok.sum()), ex["target"], np.int32)
            y = m8["data"].y[ex["idx"][ok]]
            item["rows"], item["draw"] = psr_rows(clf, cam, ex["x"][ok], ex["x_adv"][ok], y, t, s,
                                                  object_masks=m8["data"].masks[ex["idx"][ok]])
        out.append(item)
    return {"items": out, "clf": clf, "cam": cam, "attack": c8["attack"]}


BUILDERS = {"A2": build_a2, "A3": build_a3, "A4": build_a4, "A5": build_a5, "A7": build_a7}


# -- units --------------------------------------------------------------------------------------
def units(ctx, s):
    return [[f] for f in FIGURES]


def _clean(r):
    return {k: v for k, v in r.items() if not k.startswith("_")}


def run_unit(ctx, s, unit):
    which = unit[0]
    b = built(ctx, s, which)
    base = {"figure": f"Fig. {which}", "paper (caption)": PAPER[which]}
    rows = []
    if which == "A2":
        st = b["stats"][0]
        for k in A2_ORDER:
            r = b["per"][k]["rows"][0]
            rows.append({**base, "image": int(b["every"][0]), "attack": ATTACK_LABEL[k], **_clean(r),
                         "common top grids (4 attacks)": len(st["common"]), "common by chance": st["chance"],
                         "suppression among common": st["common suppression"][k],
                         "suppression Jaccard (attack pairs)": st["sup jaccard"],
                         "promotion Jaccard (attack pairs)": st["pro jaccard"], "_common": st["common"]})
    elif which == "A3":
        for j, r in enumerate(b["rows"]):
            rows.append({**base, "image": int(b["shown_idx"][j]), "attack": "C&W", **_clean(r)})
    elif which == "A4":
        for k, p in b["per"].items():
            ok = np.flatnonzero(p["success"])
            for j, c in enumerate(b["comps"]):
                row = {**base, "image": f"{c['a']}+{c['b']}", "attack": ATTACK_LABEL[k],
                       "true object pixels": int(c["true_mask"].sum()),
                       "target object pixels": int(c["target_mask"].sum()),
                       "masks overlap": int((c["true_mask"] & c["target_mask"]).sum()),
                       "attack success": bool(p["success"][j])}
                if p["success"][j]:
                    row.update(_clean(p["rows"][int(np.searchsorted(ok, j))]))
                else:
                    row.update({"true": m_name(ctx, s, c["y"]), "target": m_name(ctx, s, c["t"])})
                rows.append(row)
    elif which == "A5":
        for j, i in enumerate(b["idx"]):
            for k in A2_ORDER:
                rows.append({**base, "image": int(i), "attack": ATTACK_LABEL[k],
                             "background edge energy": float(b["energy"][i]), **_clean(b["per"][k]["rows"][j])})
    else:
        for item in b["items"]:
            ex = item["ex"]
            ok = np.flatnonzero(ex["success"])
            for j, r in enumerate(item["rows"]):
                rows.append({**base, "image": int(ex["idx"][ok[j]]), "attack": "PGD (Fig. 8)",
                             "example": item["example"], **_clean(r)})
    return rows


def m_name(ctx, s, c):
    return _model(ctx, s)["clf"].class_names[int(c)]


# -- summary ------------------------------------------------------------------------------------
IS_ADV, PRO_ADV, SHOWN_ADV = "IS (x', t)", "promotion in B(x',t)", "shown in B(x',t)"


def _avg(rows, key):
    return mean_of([r.get(key) for r in rows])


def summarize(rows, s, ctx):
    by = {f: [r for r in rows if r["figure"] == f"Fig. {f}"] for f in FIGURES}
    table = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    notes = setting_notes(ctx, s) + [
        f"Paper figures: {SOURCE}, Appendix, Figs. A2-A5 and A7 (ImageNet, Resnet_v2_101; pictures, no numbers). "
        f"Shown grids: the top {s['top_share']:.0%} of each image's perturbed grids by s (Eq. 3) (Figs. 4-5's script "
        f"takes the top {s['top_share']:.0%} of all grids; the two agree for C&W and IFGSM, which perturb every "
        f"grid); classes at |r| > {s['psr_threshold']:g}; B regions: the top {1 - s['cam_quantile']:.0%} of each "
        f"CAM, a grid in B when more than half its pixels are; a grid is 'on' an object when at least "
        f"{s['object_share']:.0%} of its pixels are in the object's mask.",
    ]
    a2 = by["A2"]
    if a2:
        b = built(ctx, s, "A2")
        st = b["stats"]
        per_attack = "; ".join(f"{r['attack']} {r['suppression']}/{r['balance']}/{r['promotion']} of {r['shown grids']}"
                               f" (suppression in B(x0,t0) {fmt(r['suppression in B(x0,t0)'])}, shown "
                               f"{fmt(r['shown in B(x0,t0)'])})" for r in a2)
        comm_sup = mean_of([mean_of(list(x["common suppression"].values())) for x in st])
        notes.append(
            f"Fig. A2 (ours: test image #{a2[0]['image']}, '{a2[0]['true']}' -> '{a2[0]['target']}'). Paper: "
            f"{PAPER['A2']}. Ours, suppression/balance/promotion grids: {per_attack}. {len(st[0]['common'])} grids "
            f"are among all four attacks' shown grids ({st[0]['chance']:.1f} expected if independent). Over all "
            f"{len(st)} images all four attacks reached: {mean_of([len(x['common']) for x in st]):.1f} common grids "
            f"({mean_of([x['chance'] for x in st]):.1f} by chance), of which a share {fmt(comm_sup)} are suppression "
            f"grids (mean over attacks); mean pairwise Jaccard of the attacks' suppression grids "
            f"{fmt(mean_of([x['sup jaccard'] for x in st]))}, of their promotion grids "
            f"{fmt(mean_of([x['pro jaccard'] for x in st]))} (the paper: suppression shared, promotion "
            "attack-specific).")
    a3 = by["A3"]
    if a3:
        b = built(ctx, s, "A3")
        sd = {k: float(np.std([r[k] for r in a3])) for k in ("suppression share", "balance share", "promotion share")}
        notes.append(
            f"Fig. A3 (ours: '{a3[0]['true']}' -> '{a3[0]['target']}', the source class with the most correctly "
            f"classified images, target seeded; C&W reached it on {int(b['success'].sum())} of {len(b['success'])}). "
            f"Paper: {PAPER['A3']}. Ours, mean (std across images) share of shown grids: suppression "
            f"{_avg(a3, 'suppression share'):.2f} ({sd['suppression share']:.2f}), balance "
            f"{_avg(a3, 'balance share'):.2f} ({sd['balance share']:.2f}), promotion "
            f"{_avg(a3, 'promotion share'):.2f} ({sd['promotion share']:.2f}); balance grids in B(x0,t0) "
            f"{fmt(_avg(a3, 'balance in B(x0,t0)'))}, suppression grids in B(x0,t0) "
            f"{fmt(_avg(a3, 'suppression in B(x0,t0)'))} vs all shown {fmt(_avg(a3, 'shown in B(x0,t0)'))}; "
            f"suppression grids on the object {fmt(_avg(a3, 'suppression on object'))} vs all shown "
            f"{fmt(_avg(a3, 'shown on object'))}.")
    elif not a3:
        notes.append("Fig. A3: C&W reached the fixed target on none of the chosen images; no rows.")
    a4 = by["A4"]
    if a4:
        ok = [r for r in a4 if r["attack success"]]
        parts = []
        for lab in ("C&W", "Str"):
            rs = [r for r in ok if r["attack"] == lab]
            parts.append(
                f"{lab} ({len(rs)} of {len([r for r in a4 if r['attack'] == lab])} reached the target): perturbed "
                f"grids {fmt(_avg(rs, 'perturbed grids'), '.1f')}, l2 {fmt(_avg(rs, 'l2'))}; suppression grids on the "
                f"true / target object {fmt(_avg(rs, 'suppression on true object'))} / "
                f"{fmt(_avg(rs, 'suppression on target object'))}, promotion grids "
                f"{fmt(_avg(rs, 'promotion on true object'))} / {fmt(_avg(rs, 'promotion on target object'))}, all "
                f"shown {fmt(_avg(rs, 'shown on true object'))} / {fmt(_avg(rs, 'shown on target object'))}")
        notes.append(
            f"Fig. A4 (ours: {len({r['image'] for r in a4})} composed two-object images). Paper: {PAPER['A4']}. "
            f"Ours: {'; '.join(parts)}. Composition (offline; the paper's image is a natural photograph): a shapes "
            "test image keeps its object and background, a second test image's object of another class is cut out "
            "by its mask and shifted horizontally beside it with a free grid column between (no resizing: both are "
            "already the model's 64x64 input); the true label is the model's prediction on the composite (one of "
            "the two classes), the target the other class.")
    else:
        notes.append("Fig. A4: no pair of test images gave a composite the model labels with one of its two "
                     "classes; no rows.")
    a5 = by["A5"]
    if a5:
        b = built(ctx, s, "A5")
        rest = np.setdiff1d(b["every"], b["idx"])
        parts = [f"{lab}: perturbed grids {fmt(_avg(rs, 'perturbed grids'), '.1f')}, IS (x0,t0) "
                 f"{fmt(_avg(rs, 'IS (x0, t0)'))}, IS (x',t) {fmt(_avg(rs, IS_ADV))}, suppression in B(x0,t0) "
                 f"{fmt(_avg(rs, 'suppression in B(x0,t0)'))}, promotion in B(x',t) "
                 f"{fmt(_avg(rs, PRO_ADV))}"
                 for lab in (ATTACK_LABEL[k] for k in A2_ORDER) for rs in [[r for r in a5 if r["attack"] == lab]]]
        notes.append(
            f"Fig. A5 (ours: the {len(b['idx'])} test images all four attacks reached with the most textured "
            f"backgrounds: mean Sobel gradient magnitude of the grey image outside the object (dilated 2 px), "
            f"{', '.join(format(b['energy'][i], '.3f') for i in b['idx'])} against a median "
            f"{np.median(b['energy'][rest]) if len(rest) else float('nan'):.3f} over the other images). Paper: "
            f"{PAPER['A5']}. Ours: {'; '.join(parts)}.")
    a7 = by["A7"]
    if a7:
        b = built(ctx, s, "A7")
        pairs = ", ".join(f"'{r['true']}' -> '{r['target']}'" for r in
                          {r["example"]: r for r in a7}.values())
        notes.append(
            f"Fig. A7 (ours: Fig. 8's examples {pairs}, its images and targeted {b['attack']!r} examples, "
            f"{len(a7)} reached the target). Paper: {PAPER['A7']}. Ours: suppression grids on the true object "
            f"{fmt(_avg(a7, 'suppression on object'))} vs all shown {fmt(_avg(a7, 'shown on object'))}; suppression "
            f"in B(x0,t0) {fmt(_avg(a7, 'suppression in B(x0,t0)'))} vs all shown "
            f"{fmt(_avg(a7, 'shown in B(x0,t0)'))}; promotion in B(x',t) {fmt(_avg(a7, PRO_ADV))} "
            f"vs all shown {fmt(_avg(a7, SHOWN_ADV))}. The shapes images hold no object of the target "
            "class, so promotion has no object to land on (the paper's 'beach' is scenery in the image).")
    notes.append("Figures: figA2_A7_psr_variants.png (A2) and figA2_A7_psr_variants_{A3,A4,A5,A7}.png beside it.")
    return Table(rows=table, notes=notes, title=TITLE, figure=lambda path: figure(path, s, ctx))


# -- figures ------------------------------------------------------------------------------------
def _psr_row(axes, names, x, x_adv, y, t, draw, j, cam0=None, label=""):
    """F(x0, t0), x0, F(x', t), PSR on F(x', t): the paper's four columns."""
    from keras_advinterp import interpret as ip

    nat = draw["cam0"][j] if cam0 is None else cam0
    ip.show(axes[0], x, nat / max(float(nat.max()), 1e-12), title=f"F(x0, '{names[y]}')")
    ip.show(axes[1], x, title=f"x0 {label}".strip())
    adv = draw["camt"][j]
    ip.show(axes[2], x_adv, adv / max(float(adv.max()), 1e-12), title=f"F(x', '{names[t]}')")
    draw_psr(axes[3], x_adv, adv, draw["classes"][j], draw["shown"][j], draw["sens"].layout, title="PSR on F(x', t)")


def _grid(plt, rows, cols):
    fig, axes = plt.subplots(max(rows, 1), cols, figsize=(1.8 * cols, 2.15 * max(rows, 1) + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes


def _save(plt, fig, path, title):
    psr_legend(fig)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    fig.savefig(path, dpi=80)
    plt.close(fig)


def figure(path, s, ctx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = _model(ctx, s)
    names = m["clf"].class_names
    stem = path.with_suffix("")
    # A2: one image, one row per attack
    b = built(ctx, s, "A2")
    fig, axes = _grid(plt, len(A2_ORDER), 4)
    for r, k in enumerate(A2_ORDER):
        p = b["per"][k]
        _psr_row(axes[r], names, p["x"][0], p["x_adv"][0], p["y"][0], p["t"][0], p["draw"], 0,
                 label=f"({ATTACK_LABEL[k]})")
    _save(plt, fig, path, f"Fig. A2 (ours): image #{b['every'][0]}, four attacks to one target")
    # A3: images of one source class, C&W to one target
    b = built(ctx, s, "A3")
    n = len(b["rows"])
    fig, axes = _grid(plt, n, 4)
    for j in range(n):
        _psr_row(axes[j], names, b["x"][j], b["x_adv"][j], b["y"][j], b["t"][j], b["draw"], j,
                 label=f"#{b['shown_idx'][j]}")
    _save(plt, fig, f"{stem}_A3.png", f"Fig. A3 (ours): '{names[b['source']]}' -> '{names[b['target']]}', C&W")
    # A4: composite, C&W and Str; natural CAMs for both labels in the first row
    b = built(ctx, s, "A4")
    n = len(b["comps"])
    fig, axes = _grid(plt, max(n, 1), 5)
    for j, c in enumerate(b["comps"]):
        ax = axes[j]
        cam = m["cam"]
        interpret.show(ax[0], c["x"], title=f"x0 ('{names[c['y']]}'+'{names[c['t']]}')")
        interpret.show(ax[1], c["x"], cam(c["x"][None], np.array([c["y"]]))[0], title=f"F(x0, '{names[c['y']]}')")
        interpret.show(ax[2], c["x"], cam(c["x"][None], np.array([c["t"]]))[0], title=f"F(x0, '{names[c['t']]}')")
        for col, k in ((3, "cw"), (4, "str")):
            p = b["per"][k]
            if not p["success"][j]:
                interpret.show(ax[col], p["x_adv"][j], title=f"{ATTACK_LABEL[k]}: target not reached")
                continue
            i = int(np.searchsorted(np.flatnonzero(p["success"]), j))
            d = p["draw"]
            draw_psr(ax[col], p["x_adv"][j], d["camt"][i], d["classes"][i], d["shown"][i], d["sens"].layout,
                     title=f"{ATTACK_LABEL[k]}: PSR on F(x', t)")
    _save(plt, fig, f"{stem}_A4.png", "Fig. A4 (ours): composed two-object images, C&W vs Str")
    # A5: textured backgrounds, one row per image: x0, F(x0,t0), then the PSR of each attack
    b = built(ctx, s, "A5")
    fig, axes = _grid(plt, len(b["idx"]), 2 + len(A2_ORDER))
    for j, i in enumerate(b["idx"]):
        p0 = b["per"]["cw"]
        interpret.show(axes[j, 0], p0["x"][j], title=f"x0 #{i}")
        interpret.show(axes[j, 1], p0["x"][j], p0["draw"]["cam0"][j], title=f"F(x0, '{names[p0['y'][j]]}')")
        for c, k in enumerate(A2_ORDER):
            d = b["per"][k]["draw"]
            draw_psr(axes[j, 2 + c], b["per"][k]["x_adv"][j], d["camt"][j], d["classes"][j], d["shown"][j],
                     d["sens"].layout, title=f"{ATTACK_LABEL[k]} -> '{names[p0['t'][j]]}'")
    _save(plt, fig, f"{stem}_A5.png", "Fig. A5 (ours): the most textured backgrounds, four attacks")
    # A7: Fig. 8's images
    b = built(ctx, s, "A7")
    shown = [(item, j) for item in b["items"] for j in range(len(item["rows"]))]
    fig, axes = _grid(plt, len(shown), 4)
    n8 = b["clf"].class_names
    for r, (item, j) in enumerate(shown):
        ex, d = item["ex"], item["draw"]
        ok = np.flatnonzero(ex["success"])
        _psr_row(axes[r], n8, ex["x"][ok[j]], ex["x_adv"][ok[j]], ex["source"], ex["target"], d, j,
                 label=f"#{ex['idx'][ok[j]]}")
    _save(plt, fig, f"{stem}_A7.png", "Fig. A7 (ours): Fig. 8's images, targeted PGD")


EXPERIMENT = Experiment(name="figA2_A7_psr_variants", paper="xu_pse", title=TITLE, defaults=DEFAULTS, quick=QUICK,
                        prepare=prepare_all, units=units, run_unit=run_unit, summarize=summarize)

if __name__ == "__main__":
    main(EXPERIMENT, __doc__)
