"""Small user models built the ways third-party files are, and a Keras-2-style .h5 writer.

``save_keras2_h5`` saves with Keras 3, then rewrites the stored model config
the way Keras 2.x wrote it (``Model`` class name, list-of-lists
``input_layers`` / ``output_layers``, ``[[name, node, tensor, {}]]`` inbound
nodes, ``batch_input_shape``, plain dtype strings, keras_version 2.2.4), so
loading takes Keras 3's legacy path and gives list-shaped inputs, as real
Keras 2 files do.
"""

import json

import h5py
import keras
import numpy as np

L = keras.layers


def resnet_softmax_layer():
    """Functional mini ResNet, list-shaped in/out, Dense + separate Activation('softmax') (a ResNet-20 head)."""
    inp = L.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", name="conv_a")(inp)
    x = L.BatchNormalization(name="bn_a")(x)
    x = L.Activation("relu", name="relu_a")(x)
    y = L.Conv2D(8, 3, padding="same", name="conv_b")(x)
    x = L.Activation("relu", name="block_out")(L.Add(name="add")([x, y]))
    x = L.AveragePooling2D(pool_size=16, name="pool")(x)  # 1x1 maps: not a CAM layer
    x = L.Dense(5, name="dense")(L.Flatten(name="flatten")(x))
    out = L.Activation("softmax", name="probs")(x)
    return keras.Model([inp], [out], name="resnet_softmax_layer")


def functional_in_sequential():
    """A functional body (list-shaped) inside a Sequential that ends with Activation('softmax')."""
    inp = L.Input((12, 12, 3))
    h = L.Conv2D(6, 3, activation="relu", name="inner_conv")(inp)
    h = L.GlobalAveragePooling2D(name="inner_gap")(h)
    body = keras.Model([inp], L.Dense(4, name="inner_dense")(h), name="body")
    return keras.Sequential([L.Input((12, 12, 3)), body, L.Activation("softmax", name="probs")],
                            name="functional_in_sequential")


def sequential_in_functional():
    """A Sequential (conv ... Dense(softmax)) called inside a functional model."""
    seq = keras.Sequential([
        L.Input((10, 10, 4)),
        L.Conv2D(6, 3, activation="relu", name="seq_conv"),
        L.GlobalAveragePooling2D(name="seq_gap"),
        L.Dense(3, activation="softmax", name="seq_probs"),
    ], name="head")
    inp = L.Input((10, 10, 1))
    x = L.Conv2D(4, 1, name="stem")(inp)
    return keras.Model([inp], [seq(x)], name="sequential_in_functional")


def dense_softmax():
    """Plain functional model whose softmax is inside the last Dense."""
    inp = L.Input((14, 14, 3))
    x = L.Conv2D(5, 3, activation="relu", name="maps")(inp)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(4, activation="softmax", name="probs")(x), name="dense_softmax")


BUILDERS = {f.__name__: f for f in (resnet_softmax_layer, functional_in_sequential, sequential_in_functional,
                                    dense_softmax)}


def trained_looking(model, seed=0):
    """Gives ``model`` larger random weights so its softmax is far from uniform (outputs differ per image)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) if w.ndim > 1 else w
                       for w in model.get_weights()])
    return model


def save_keras2_h5(model, path):
    """Saves ``model`` as an .h5 whose config reads like one Keras 2.2.4 wrote."""
    model.save(path)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        f.attrs["model_config"] = json.dumps(keras2_config(config))
        f.attrs["keras_version"] = "2.2.4"
    return path


def keras2_config(node):
    """Recursively rewrites a Keras 3 model config into Keras 2's layout."""
    if isinstance(node, list):
        return [keras2_config(v) for v in node]
    if not isinstance(node, dict):
        return node
    if node.get("class_name") == "DTypePolicy":
        return node["config"]["name"]
    out = {k: keras2_config(v) for k, v in node.items() if k not in ("module", "registered_name", "build_config")}
    if out.get("class_name") == "Functional":
        out["class_name"] = "Model"
        cfg = out["config"]
        for key in ("input_layers", "output_layers"):
            if cfg[key] and not isinstance(cfg[key][0], list):
                cfg[key] = [cfg[key]]
    if out.get("class_name") == "InputLayer" and "batch_shape" in out.get("config", {}):
        cfg = out["config"]
        cfg["batch_input_shape"] = cfg.pop("batch_shape")
        cfg.pop("optional", None)
    if "inbound_nodes" in out:
        out["inbound_nodes"] = [_keras2_node(n) for n in node["inbound_nodes"]]
    return out


def _keras2_node(node):
    """{"args": [keras tensors], "kwargs": {}} -> [[layer, node, tensor, {}], ...]."""
    history = []

    def walk(v):
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            history.append([*v["config"]["keras_history"], {}])
        elif isinstance(v, (list, tuple)):
            for item in v:
                walk(item)

    walk(node["args"])
    return history
