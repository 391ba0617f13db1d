"""Names and one-line descriptions of attacks and interpreters, without importing TensorFlow.

``advinterp --help`` and argument errors must answer fast, before the
TensorFlow import; tests/cli/test_catalog.py checks this table against
``attacks.REGISTRY``, ``interpret.REGISTRY`` and ``defenses.REGISTRY``.
"""

ATTACKS = {
    "adv2": "ADV2: the joint classification + interpretation loss, no edge weighting (Zhang et al. 2020).",
    "advedge": "AdvEdge: ADV2 with every update multiplied by the clean image's Sobel edge magnitudes (Eq. 10-12).",
    "advedge_plus": "AdvEdge+: ADV2 perturbing only pixels whose Sobel magnitude exceeds ``threshold`` (0.1).",
    "attention": "Attack on attention (AoA): suppress the true class's CAM / Grad-CAM mass.",
    "bim": "Basic iterative method / I-FGSM: PGD from the clean image, step eps / steps.",
    "cw": "Carlini & Wagner's L2 attack: Adam in tanh space, binary search on c.",
    "deepfool": "Untargeted DeepFool (l2 or l_inf), stopping per image when its label flips.",
    "ead": "Elastic-net attack: FISTA on ``c*margin + ||d||_2^2 + beta*||d||_1``.",
    "fgsm": "Fast gradient (sign) method: one step of size ``eps``.",
    "mim": "Momentum iterative method (MI-FGSM): BIM with accumulated gradients.",
    "pgd": "Projected gradient descent in an Linf, L2 or L1 ball, one compiled loop.",
    "stadv": "Spatially transformed adversarial examples, optimised by Adam.",
    "strattack": "Structured (group-sparse) attack by linearised ADMM.",
    "uap": "Fits one perturbation ``v`` (H, W, C) that fools a classifier on most images of a set.",
}

INTERPRETERS = {
    "cam": "Class activation mapping, CAM_c = ReLU(sum_k w_kc A_k), compiled and differentiable.",
    "grad": 'The gradient map "Grad" (ADV2 / AdvEdge): max over channels of |d logit_c / dx|.',
    "gradcam": "Grad-CAM through ``tf_keras_vis.gradcam.Gradcam`` on the feature layer.",
    "gradcam++": "Grad-CAM++ through ``tf_keras_vis.gradcam_plus_plus.GradcamPlusPlus``.",
    "gradcam_xla": "Grad-CAM as one compiled, differentiable function (twin of ``GradCAM``).",
    "mask": "Meaningful-perturbation masks, batched and compiled.",
    "occlusion": "Occlusion sensitivity (Zeiler & Fergus, 2014): the class score's drop with each patch covered.",
    "rts": "Real-time saliency maps from a trained masking model (one forward pass).",
    "saliency": "Vanilla gradient saliency (max |grad| over channels) via tf-keras-vis.",
    "scorecam": "Score-CAM through ``tf_keras_vis.scorecam.Scorecam``.",
    "smoothgrad": "SmoothGrad: saliency averaged over ``samples`` noisy copies (noise x range).",
}

DETECTORS = {
    "binary": "Flags inputs that a CNN trained from scratch on clean vs adversarial images calls adversarial.",
    "feature_squeezing": "Flags inputs whose prediction moves when they are squeezed (Xu et al.'s joint detection).",
    "saliency": "Flags an input when its label changes on the saliency-emphasised (and enhanced) image.",
}


def listing(table: dict) -> str:
    return "\n".join(f"  {name:<12} {text.replace('``', '')}" for name, text in sorted(table.items()))
