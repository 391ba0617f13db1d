"""Attacks inside other graphs: a Keras train_step and tf.distribute replicas.

The graph-safe entry (``attack.graph_function(clf)``) is pure TensorFlow:
the same images as the host-side call (deterministic settings), callable
inside ``fit()``'s compiled train step and inside ``strategy.run``.
"""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_advinterp import attacks
from keras_advinterp.attacks.norms import budget_slack

EPS = 0.1
# Host calls without XLA, so both sides run the same kernels (an L2 step
# normalises tiny gradients, where XLA's and oneDNN's rounding differ).
DETERMINISTIC = [
    (attacks.FGSM, {"eps": EPS}),
    (attacks.BIM, {"eps": EPS, "steps": 4}),
    (attacks.MIM, {"eps": EPS, "steps": 4}),
    (attacks.PGD, {"eps": EPS, "steps": 4, "random_start": False}),
    (attacks.PGD, {"eps": 1.0, "steps": 4, "norm": "l2", "random_start": False}),
    (attacks.PGD, {"eps": 8.0, "steps": 4, "norm": "l1", "random_start": False}),
    (attacks.PGD, {"eps": EPS, "steps": 25, "random_start": False}),  # above the unroll limit: a tf.while_loop
    (attacks.AttentionAttack, {"eps": EPS, "steps": 3, "interpreter": "cam"}),
]


@pytest.mark.parametrize("cls, kwargs", DETERMINISTIC,
                         ids=lambda v: v.name if isinstance(v, type) else "-".join(f"{k}={v[k]}" for k in v))
def test_graph_function_matches_the_host_call(cls, kwargs, digits_clf, digits_data):
    x, y = digits_data.x[:8], digits_data.y[:8]
    attack = cls(**kwargs, jit_compile=False)
    host = attack(digits_clf, x, y).x_adv
    fn = tf.function(attack.graph_function(digits_clf))
    graph = fn(tf.constant(x), tf.constant(y)).numpy()
    np.testing.assert_allclose(graph, host, atol=2e-5)


def test_graph_function_random_start_is_seeded_and_in_budget(digits_clf, digits_data, in_budget):
    x, y = digits_data.x[:8], digits_data.y[:8]
    attack = attacks.PGD(eps=EPS, steps=3, jit_compile=False)
    fn = tf.function(attack.graph_function(digits_clf))
    seeded = fn(tf.constant(x), tf.constant(y), seed=tf.constant([0, 0]))
    np.testing.assert_allclose(seeded.numpy(), attack(digits_clf, x, y, seed=0).x_adv, atol=2e-5)
    restarts = attacks.PGD(eps=EPS, steps=3, restarts=3, jit_compile=False)
    graph = tf.function(restarts.graph_function(digits_clf))(tf.constant(x), tf.constant(y), seed=tf.constant([0, 0]))
    np.testing.assert_allclose(graph.numpy(), restarts(digits_clf, x, y, seed=0).x_adv, atol=2e-5)
    a, b = fn(tf.constant(x), tf.constant(y)).numpy(), fn(tf.constant(x), tf.constant(y)).numpy()
    assert not np.array_equal(a, b)  # no seed: a fresh random start per call
    in_budget(a, x, "linf", EPS)


def test_targeted_graph_function(digits_clf, digits_data):
    x, y = digits_data.x[:8], digits_data.y[:8]
    target = (y + 1) % 10
    attack = attacks.PGD(eps=0.3, steps=10, random_start=False, jit_compile=False)
    fn = attack.graph_function(digits_clf, targeted=True)
    out = fn(x, y, target=target).numpy()
    np.testing.assert_allclose(out, attack(digits_clf, x, y, target=target).x_adv, atol=2e-5)
    with pytest.raises(ValueError, match="pass target="):
        fn(x, y)


def test_non_gradient_attacks_say_they_have_no_graph_form(digits_clf):
    with pytest.raises(NotImplementedError, match="no graph-safe form"):
        attacks.CarliniWagnerL2().graph_function(digits_clf)


class AdversarialModel(keras.Model):
    """A user's model whose train step trains on PGD examples made on the fly."""

    def __init__(self, net, attack_fn):
        super().__init__()
        self.net, self.attack_fn = net, attack_fn
        self.linf = keras.metrics.Mean(name="linf")

    def call(self, x, training=False):
        return self.net(x, training=training)

    def train_step(self, data):
        x, y = data
        x_adv = self.attack_fn(x, y)
        with tf.GradientTape() as tape:
            logits = self(x_adv, training=True)
            loss = self.compute_loss(x=x_adv, y=y, y_pred=logits)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.linf.update_state(tf.reduce_max(tf.abs(x_adv - x), axis=[1, 2, 3]))
        return {"loss": loss, "linf": self.linf.result()}

    @property
    def metrics(self):
        return [self.linf]


@pytest.mark.parametrize("jit", [False, True])
def test_pgd_inside_a_keras_train_step(jit):
    from keras_advinterp import data, models

    clf = models.load("digits")  # its own copy: training changes its weights
    x, y = data.load("digits", "train", limit=64)
    before = clf.predict(x)
    model = AdversarialModel(clf.model, attacks.PGD(eps=EPS, steps=3).graph_function(clf))
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)
    hist = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    linf = hist.history["linf"][-1]
    assert 0.5 * EPS < linf <= EPS + budget_slack("linf", EPS, 1)  # real perturbations, inside the budget
    assert not np.allclose(clf.predict(x), before)  # the weights the attack reads were trained


STRATEGY_SCRIPT = textwrap.dedent("""
    import os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from keras_advinterp import attacks, data, models

    clf = models.load("digits")
    x, y = data.load("digits", "test", limit=16)
    attack = attacks.PGD(eps=0.1, steps=3, random_start=False, jit_compile=False)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    fn = attack.graph_function(clf)
    ds = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(16))

    @tf.function
    def distributed(xb, yb):
        return strategy.run(fn, args=(xb, yb))

    out = [strategy.gather(distributed(xb, yb), axis=0).numpy() for xb, yb in ds][0]
    host = attack(clf, x, y).x_adv
    print("max_diff", float(np.abs(out - host).max()), "shape", out.shape)
""")


def test_pgd_inside_strategy_run_on_two_logical_cpus(tmp_path):
    script = tmp_path / "strategy.py"
    script.write_text(STRATEGY_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [s for s in done.stdout.splitlines() if s.startswith("max_diff")][0].split()
    assert float(line[1]) < 2e-5 and line[3] == "(16,"


def test_graph_safe_says_which_attacks_have_a_graph_function():
    assert all(a.graph_safe for a in (attacks.FGSM(), attacks.BIM(), attacks.MIM(), attacks.PGD()))
    assert not attacks.CarliniWagnerL2().graph_safe and not attacks.DeepFool().graph_safe
