"""Training steps as compiled loops (helpers.step_loops): the same weights and histories as Keras'
own training function, bit for bit, on TensorFlow and JAX."""

import os
import subprocess
import sys

import pytest

keras = pytest.importorskip("keras")

from helpers import step_loops, vae  # noqa: E402

SCRIPT = """
import numpy as np
import keras
from helpers import step_loops, vae

step_loops.LOOP_STEPS, step_loops.MIN_STEPS = 8, 16
x = np.random.default_rng(0).uniform(size=(1000, 12)).astype(np.float32)  # 62 batches of 16, one of 8
if keras.backend.backend() == "tensorflow":  # fed by tf.data, as train_vae feeds it
    import tensorflow as tf

    def data():
        return {"x": tf.data.Dataset.from_tensor_slices(x).shuffle(1000, seed=1).batch(16), "shuffle": False}
else:
    def data():
        return {"x": x, "batch_size": 16, "shuffle": True}


def train(looped):
    keras.utils.set_random_seed(0)
    model = vae.VAE(12, 2, (16,))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), steps_per_execution=20, jit_compile=True)
    if not looped:  # Keras' own training function
        model.make_train_function = lambda force=False: keras.Model.make_train_function(model, force)
    history = model.fit(**data(), epochs=3, validation_data=(x[:100], None), verbose=0)
    return model, history.history


keras_model, keras_history = train(looped=False)
model, history = train(looped=True)
function = model.train_function
assert type(function).__name__.startswith("Looped"), type(function)
assert not type(keras_model.train_function).__name__.startswith("Looped")
print(function.loops, function.steps, int(model.optimizer.iterations.numpy()),
      int(keras_model.optimizer.iterations.numpy()))
print(all(np.array_equal(a, b) for a, b in zip(model.get_weights(), keras_model.get_weights(), strict=True)),
      history == keras_history, len(history["loss"]), history["loss"][0] > history["loss"][-1])
"""


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_compiled_loops_train_to_the_weights_of_keras_own_function_bit_for_bit(backend):
    """Runs of batches train in compiled loops; the rest, and the smaller last batch, one step
    each. Executions of 20, 20, 20 and 3 steps an epoch make two loops of 8 in each of the first
    three. Weights and histories (with a validation set) equal those of Keras' own function after
    three shuffled epochs. In a child process: KERAS_BACKEND is fixed per process."""
    pytest.importorskip(backend)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env={**os.environ, "KERAS_BACKEND": backend},
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    loops, steps, iterations, keras_iterations = map(int, done.stdout.split()[-8:-4])
    assert (loops, steps, iterations, keras_iterations) == (3 * 6, 3 * 63, 3 * 63, 3 * 63)
    assert done.stdout.split()[-4:] == ["True", "True", "3", "True"]


def test_loops_need_enough_steps_per_execution():
    """Fewer than MIN_STEPS steps per execution (the sweep's small models) keep Keras' function."""
    model = vae.VAE(4, 2, (8,))
    model.compile(optimizer="adam", steps_per_execution=step_loops.MIN_STEPS, jit_compile=True)
    assert step_loops.applies(model) == (keras.backend.backend() in ("tensorflow", "jax"))
    model.compile(optimizer="adam", steps_per_execution=step_loops.MIN_STEPS - 1, jit_compile=True)
    assert not step_loops.applies(model)
    model.compile(optimizer="adam", steps_per_execution=step_loops.MIN_STEPS, run_eagerly=True)
    assert not step_loops.applies(model)


@pytest.mark.parametrize("loop_steps", [1, 0, 2.5, True])
def test_a_loop_needs_two_steps_or_more(loop_steps):
    with pytest.raises(ValueError, match="loop_steps must be an integer of at least 2"):
        step_loops.train_function(vae.VAE(4, 2, (8,)), None, loop_steps)
