"""Training steps as compiled loops, on TensorFlow and JAX.

With ``steps_per_execution`` above one, Keras runs the steps of an execution one compiled call
each: on TensorFlow a graph loop that fetches a batch and calls the XLA-compiled step, on JAX a
Python loop. Here each run of ``LOOP_STEPS`` batches of one shape is stacked and trained in one
compiled loop of Keras' own ``train_step``; what is left (the end of an epoch, a smaller last
batch) takes Keras' one step per call. The arithmetic is the step's own, so the weights and
histories are Keras' bit for bit (tests/test_step_loops.py); only the calls between the steps go.
An epoch of the 60,000 MNIST images took 1.35 s instead of 1.64 s on TensorFlow, and 1.25 s
instead of 1.40 s on JAX, on two cores (``make bench-vae``).
"""

from __future__ import annotations

import itertools

import keras
import numpy as np

#: Steps per compiled loop. Their batches are stacked first: 32 MNIST batches make 12.8 MB. On
#: JAX, loops of 16 to 39 steps trained an MNIST epoch in 1.20 s; of 117 steps (a 47 MB stack) in
#: 1.29 s, and a whole epoch at once (188 MB) in 1.35 s, as slow as one call per step, since the
#: stack then cost as much to copy as the loop saved.
LOOP_STEPS = 32

#: Fewest steps per execution that train in loops. The loop is compiled besides Keras' step: on
#: TensorFlow a model of Task 4's sweep (2-D positions, 38 batches of 64) took 2.3 s longer to
#: compile and 0.01 s less per epoch (0.025 s instead of 0.034 s), too little over its 100 to 300
#: epochs; an MNIST epoch (391 to 469 batches) saves 0.3 s.
MIN_STEPS = 128


def applies(model: keras.Model) -> bool:
    """Whether ``model`` trains in compiled loops: on TensorFlow or JAX, compiled, with at least
    ``MIN_STEPS`` steps per execution, and without a distribution (whose placement Keras manages
    itself)."""
    if model.steps_per_execution < max(MIN_STEPS, LOOP_STEPS) or not model.jit_compile or model.run_eagerly:
        return False
    if keras.backend.backend() == "jax":
        return keras.distribution.distribution() is None and not keras.config.is_nnx_enabled()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return not tf.distribute.has_strategy() and model.distribute_strategy is tf.distribute.get_strategy()
    return False


def _loop_steps(loop_steps) -> int:
    loop_steps = LOOP_STEPS if loop_steps is None else loop_steps
    if isinstance(loop_steps, bool) or not isinstance(loop_steps, int) or loop_steps < 2:
        raise ValueError(f"loop_steps must be an integer of at least 2, got {loop_steps!r}.")
    return loop_steps


def train_function(model: keras.Model, keras_function, loop_steps: int | None = None):
    """A training function for ``model`` (see ``applies``) that Keras' fit calls as it calls its
    own, ``keras_function``; loops have ``loop_steps`` steps (``LOOP_STEPS`` unless given)."""
    loop_steps = _loop_steps(loop_steps)
    if keras.backend.backend() == "jax":
        return LoopedJaxFunction(model, loop_steps)
    return LoopedTensorFlowFunction(model, keras_function, loop_steps)


class LoopedJaxFunction:
    """``(state, iterator) -> (logs, state)``, as Keras' JAX trainer calls it: trains on up to
    ``steps_per_execution`` batches from ``iterator``; StopIteration when there are none.

    ``loops`` and ``steps`` count the compiled loops run and the steps trained in all.
    """

    def __init__(self, model: keras.Model, loop_steps: int | None = None):
        import jax
        import jax.numpy as jnp

        self.model, self.loop_steps = model, _loop_steps(loop_steps)
        steps = scan_steps(model.train_step)

        def loop(state, batches):
            return steps(state, jax.tree.map(lambda *arrays: jnp.stack(arrays), *batches))

        self._loop = jax.jit(loop, donate_argnums=0)
        self._step = jax.jit(model.train_step, donate_argnums=0)  # as Keras compiles its step
        self.loops = self.steps = 0

    def __call__(self, state, iterator):
        remaining, logs, trained = self.model.steps_per_execution, None, 0
        while remaining:
            batches = list(itertools.islice(iterator, min(self.loop_steps, remaining)))
            if not batches:
                break
            remaining -= len(batches)
            shapes = _shapes(batches[0])
            if len(batches) == self.loop_steps and all(_shapes(batch) == shapes for batch in batches[1:]):
                logs, state = self._loop(state, batches)
                self.loops += 1
            else:
                for batch in batches:
                    logs, state = self._step(state, batch)
            trained += len(batches)
        if not trained:
            raise StopIteration
        self.steps += trained
        return logs, state


def scan_steps(step):
    """``(state, stacked) -> (logs, state)``: Keras' JAX ``step`` (``(state, batch) -> (logs,
    state)``) on each batch of ``stacked``, the batches stacked along a first axis, in one
    ``lax.scan``; the logs are the last step's, as Keras returns them. Not yet compiled."""
    import jax

    def body(state, batch):
        logs, state = step(state, batch)
        return state, logs

    def steps(state, stacked):
        state, logs = jax.lax.scan(body, state, stacked)
        return jax.tree.map(lambda values: values[-1], logs), state

    return steps


def _shapes(batch) -> list:
    import jax

    return [np.shape(leaf) for leaf in jax.tree.leaves(batch)]


class LoopedTensorFlowFunction:
    """``iterator -> logs``, as Keras' TensorFlow trainer calls it: trains on up to
    ``steps_per_execution`` batches of a ``tf.data`` iterator of tensors in one graph call;
    StopIteration when there are none. Other iterators go to Keras' own function.

    ``loops`` and ``steps`` count the compiled loops run and the steps trained in all.
    """

    def __init__(self, model: keras.Model, keras_function, loop_steps: int | None = None):
        import tensorflow as tf

        self.model, self.keras_function, self.loop_steps = model, keras_function, _loop_steps(loop_steps)
        self.loops = self.steps = 0
        size = self.loop_steps

        @tf.function(jit_compile=True)
        def loop(stacked):
            def body(i):
                model.train_step(tf.nest.map_structure(lambda tensor: tensor[i], stacked))
                return (i + 1,)

            return tf.while_loop(lambda i: i < size, body, (tf.constant(0),))[0]

        one = tf.function(model.train_step, jit_compile=True, reduce_retracing=True)

        def one_by_one(count, read):
            """Train on ``read(i)`` for i < count, one compiled step each."""

            def body(i):
                one(read(i))
                return (i + 1,)

            return tf.while_loop(lambda i: i < count, body, (tf.constant(0),))[0]

        def chunk(iterator):
            """Train on the next ``size`` batches, in one loop if all are there with one shape:
            (steps trained, loops run). The batches wait in TensorArrays, one per leaf of a batch's
            structure, which hold tensors of any shape."""
            spec = iterator.element_spec
            leaves = tf.nest.flatten(spec)
            arrays = [tf.TensorArray(leaf.dtype, size=size, infer_shape=False) for leaf in leaves]
            first = [tf.zeros([leaf.shape.rank], tf.int32) for leaf in leaves]

            def fetch(k, count, same, arrays, first):
                element = iterator.get_next_as_optional()

                def keep():
                    values = tf.nest.flatten(element.get_value())
                    shapes = [tf.shape(value) for value in values]
                    new_first = [tf.where(count > 0, a, b) for a, b in zip(first, shapes, strict=True)]
                    equal = tf.reduce_all([tf.reduce_all(tf.equal(a, b)) for a, b in zip(new_first, shapes,
                                                                                          strict=True)])
                    written = [array.write(count, value) for array, value in zip(arrays, values, strict=True)]
                    return count + 1, tf.logical_and(same, equal), written, new_first

                count, same, arrays, first = tf.cond(element.has_value(), keep,
                                                     lambda: (count, tf.constant(False), arrays, first))
                return k + 1, count, same, arrays, first

            _, count, same, arrays, _ = tf.while_loop(lambda k, *_: k < size, fetch,
                                                      (tf.constant(0), tf.constant(0), tf.constant(True), arrays,
                                                       first))

            def shaped(tensor, shape):
                tensor.set_shape(shape)  # a TensorArray forgets its elements' shapes
                return tensor

            def looped():
                stacked = tf.nest.pack_sequence_as(spec, [shaped(array.stack(), [size, *leaf.shape])
                                                          for array, leaf in zip(arrays, leaves, strict=True)])
                with tf.control_dependencies([loop(stacked)]):
                    return tf.constant(size), tf.constant(1)

            def unlooped():
                trained = one_by_one(count, lambda i: tf.nest.pack_sequence_as(
                    spec, [shaped(array.read(i), leaf.shape) for array, leaf in zip(arrays, leaves, strict=True)]))
                return trained, tf.constant(0)

            return tf.cond(tf.logical_and(same, tf.equal(count, size)), looped, unlooped)

        def rest(iterator, count):
            """Train on up to ``count`` further batches, one by one: the steps trained."""

            def body(k, trained):
                element = iterator.get_next_as_optional()

                def train():
                    one(element.get_value())
                    return trained + 1

                return tf.cond(element.has_value(), lambda: (k + 1, train()), lambda: (count, trained))

            return tf.while_loop(lambda k, trained: k < count, body, (tf.constant(0), tf.constant(0)))[1]

        @tf.function
        def execution(iterator):
            steps = model.steps_per_execution

            def chunks(k, trained, loops):
                chunk_trained, chunk_loops = chunk(iterator)
                return k + 1, trained + chunk_trained, loops + chunk_loops

            _, trained, loops = tf.while_loop(lambda k, trained, loops: k < steps // size, chunks,
                                              (tf.constant(0), tf.constant(0), tf.constant(0)))
            trained += rest(iterator, tf.constant(steps % size))
            with tf.control_dependencies([trained, loops]):
                return trained, loops, model.get_metrics_result()  # the last step's logs

        self._execution = execution

    def __call__(self, iterator):
        import tensorflow as tf

        if not isinstance(iterator, tf.data.Iterator) or not all(
                isinstance(leaf, tf.TensorSpec) for leaf in tf.nest.flatten(iterator.element_spec)):
            return self.keras_function(iterator)  # (an Optional stands for a missing target, for example)
        trained, loops, logs = self._execution(iterator)
        if not int(trained):
            raise StopIteration
        self.steps += int(trained)
        self.loops += int(loops)
        return logs
