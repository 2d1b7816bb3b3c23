"""Benchmark: training throughput of our Keras VAE against a reference written in the style of
the TensorFlow CVAE tutorial (the same architecture, a GradientTape step inside tf.function),
on the full MNIST training set, batch 128, 2-D latent space, in one run.

Also measures the machine's float32 matrix-multiply rate, to say how close training comes to it,
and the posterior noise of a 32-D model's step drawn as Keras draws it and as our model does.
    python bench/bench_vae.py [--epochs 7]

The reference runs on TensorFlow; our model is timed on TensorFlow in the same process, in one
single-threaded process per core started together (a pool, as the sweep runs its points),
and, where JAX or PyTorch is installed, on that backend in a child process (KERAS_BACKEND is fixed
per process). Two rows train Task 3's 32-D model, with the posterior noise as our model draws it
(``helpers.vae.model.standard_normal``, Philox named) and as ``keras.random.normal`` draws it: the
same numbers, at the speed each gives a training that a user waits for. Every row takes its turn
each round, the children's too, so that a slow spell of the machine hits all alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from helpers.core import data, executor  # noqa: E402
from helpers.vae import model as vae  # noqa: E402
from helpers.vae import training as vae_training  # noqa: E402

#: Multiply-adds per sample of the dense layers' forward pass, 784-256-256-(2+2) and 2-256-256-784.
FORWARD_MACS = 784 * 256 + 256 * 256 + 256 * 4 + 2 * 256 + 256 * 256 + 256 * 784
#: Floating-point operations per sample of one training step: the forward pass, the weights'
#: gradients (as many multiply-adds) and the inputs' gradients of every layer but the first (the
#: images need none), two operations a multiply-add.
FLOPS_PER_SAMPLE = 2 * (3 * FORWARD_MACS - 784 * 256)


class ReferenceVAE:
    """The tutorial's structure: encoder and decoder Sequentials, reparameterise, tf.function step."""

    def __init__(self, latent_dim=2):
        self.encoder = keras.Sequential([keras.Input((784,)), keras.layers.Dense(256, activation="relu"),
                                         keras.layers.Dense(256, activation="relu"),
                                         keras.layers.Dense(2 * latent_dim)])
        self.decoder = keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(256, activation="relu"),
                                         keras.layers.Dense(256, activation="relu"), keras.layers.Dense(784)])
        self.log_sigma = tf.Variable(0.0)


def reference_step_fn(model, optimizer):
    log2pi = tf.math.log(2.0 * np.pi)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            mean, logvar = tf.split(model.encoder(x), 2, axis=1)
            z = mean + tf.exp(0.5 * logvar) * tf.random.normal(tf.shape(mean))
            x_mean = model.decoder(z)
            scaled = (x - x_mean) * tf.exp(-model.log_sigma)
            nll = tf.reduce_sum(0.5 * scaled**2 + 0.5 * log2pi + model.log_sigma, 1)
            kl = 0.5 * tf.reduce_sum(tf.exp(logvar) + mean**2 - 1.0 - logvar, 1)
            loss = tf.reduce_mean(nll + kl)
        variables = model.encoder.trainable_variables + model.decoder.trainable_variables + [model.log_sigma]
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return step


def reference_epoch(x, quiet_pipeline=False):
    """A function that trains the reference for one epoch and returns its seconds; with
    ``quiet_pipeline``, its tf.data pipeline runs as ours does (one thread, no autotuning)."""
    model = ReferenceVAE()
    step = reference_step_fn(model, keras.optimizers.Adam(1e-3))
    dataset = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=0).batch(128)
    if quiet_pipeline:
        dataset = dataset.with_options(vae_training.quiet_pipeline_options())
    for batch in dataset.take(5):  # trace and warm up
        step(batch)

    def epoch():
        start = time.perf_counter()
        for batch in dataset:
            step(batch)
        return time.perf_counter() - start

    return epoch


def keras_normal(shape, seed):
    return keras.random.normal(shape, seed=seed)


def our_model(x, latent_dim=2, keras_noise=False, **compile_options):
    """Our VAE and the arguments of ``fit`` that feed it ``x``: compiled as train_vae does, or
    with Keras' defaults and ``compile_options``; with ``keras_noise``, its posterior noise drawn by
    ``keras.random.normal``. Trained one epoch, which traces both batch shapes and warms up."""
    keras.utils.set_random_seed(0)
    model = vae.VAE(784, latent_dim)
    config = vae_training.TrainingConfig(latent_dim=latent_dim)
    if compile_options:
        model.compile(optimizer=keras.optimizers.Adam(1e-3), **compile_options)
        inputs = {"x": x, "batch_size": 128, "shuffle": True}
    else:
        vae_training.compile_for_training(model, config, len(x))
        inputs, _ = vae_training.fit_inputs(x, x[:128], config)
    ours = vae.standard_normal
    vae.standard_normal = keras_normal if keras_noise else ours  # read when the step is traced, in this fit
    try:
        model.fit(**inputs, epochs=1, verbose=0)
    finally:
        vae.standard_normal = ours
    return model, inputs


def our_epoch(x, latent_dim=2, keras_noise=False, **compile_options):
    """The same for our VAE (see ``our_model``)."""
    model, inputs = our_model(x, latent_dim, keras_noise, **compile_options)

    def epoch():
        start = time.perf_counter()
        model.fit(**inputs, epochs=1, verbose=0)
        return time.perf_counter() - start

    return epoch


#: The reference's row, against which every row is compared.
REFERENCE = "reference (tf.function + GradientTape)"
#: Task 3's 32-D model with our posterior noise and with Keras' (the FLOP share counts a 2-D step).
NOISE_ROWS = ("ours, 32-D, noise as our model draws it", "ours, 32-D, noise by keras.random.normal")

#: How a child process marks its answers (the seconds of an epoch) among whatever else it prints.
ANSWER = "epoch-seconds"


class Child:
    """Our default training in a child process (with ``environment``): it warms up, then times one
    epoch each time it is asked (``ask``, then ``answer``)."""

    def __init__(self, environment, mode="ours"):
        self.environment = environment
        self.log = tempfile.TemporaryFile(mode="w+")  # its stderr, shown if it fails
        command = [sys.executable, __file__, "--worker", mode]
        self.process = subprocess.Popen(command, env={**os.environ, **environment}, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)

    def ask(self):
        self.process.stdin.write("epoch\n")
        self.process.stdin.flush()

    def answer(self) -> float:
        for line in self.process.stdout:
            if line.startswith(ANSWER):
                return float(line.split()[1])
        self.process.wait()
        self.log.seek(0)
        raise RuntimeError(f"a run with {self.environment} failed:\n{self.log.read()[-2000:]}")

    def close(self):
        self.process.stdin.close()
        self.process.wait()
        self.log.close()


def start(group):
    """Start a group of children together and wait until all are warm; None (said why) if one failed."""
    try:
        for child in group:
            child.answer()
        return group
    except (RuntimeError, OSError) as error:
        print(error, file=sys.stderr)
        for child in group:
            child.process.kill()
        return None


def epoch_of(group) -> float:
    """Seconds of an epoch of each child of ``group``, started together: their mean, divided by
    their number (the group's throughput)."""
    for child in group:
        child.ask()
    return float(np.mean([child.answer() for child in group])) / len(group)


#: What a child times (``--worker MODE``): our training.
WORKER_MODES = {"ours": our_epoch}


def worker(x, mode):
    """The child's side: warm up, then answer each line on stdin with the seconds of one epoch."""
    epoch = WORKER_MODES[mode](x)
    print(ANSWER, 0.0, flush=True)
    for _ in sys.stdin:
        print(ANSWER, epoch(), flush=True)


def matmul_rate(n=2048, repeats=20):
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    tf.matmul(a, b).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        c = tf.matmul(a, b)
    c.numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def noise_seconds(draw, shape=(128, 32), repeats=400):
    """Seconds per draw of ``shape`` posterior noise inside one XLA-compiled loop, as in training
    (``draw(shape, seed_generator)``; the sum uses every number, so none is left undrawn)."""
    generator = keras.random.SeedGenerator(0)

    @tf.function(jit_compile=True)
    def draws():
        total = tf.zeros(shape)
        for _ in tf.range(repeats):
            total += draw(shape, generator)
        return total

    draws().numpy()  # compile
    start = time.perf_counter()
    draws().numpy()
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=7, help="timed epochs per implementation (median reported)")
    parser.add_argument("--worker", choices=WORKER_MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    (images, _), _ = data.load_mnist()
    x = (images.reshape(-1, 784) / 255.0).astype(np.float32)  # the full training set
    if args.worker:  # time our training on this process's backend only
        worker(x, args.worker)
        return
    runs = {REFERENCE: reference_epoch(x),
            "reference, fed as ours (one tf.data thread)": reference_epoch(x, quiet_pipeline=True),
            "ours, as train_vae trains (one call per epoch)": our_epoch(x),
            "ours, Keras fit defaults (one call per step)": our_epoch(x, jit_compile="auto"),
            NOISE_ROWS[0]: our_epoch(x, latent_dim=32),
            NOISE_ROWS[1]: our_epoch(x, latent_dim=32, keras_noise=True)}
    workers = executor.cores()
    groups = {f"ours, {workers} processes x 1 thread at once (a pool)":  # one single-threaded worker per core
              [Child(executor.thread_settings(1)) for _ in range(workers)]}
    for backend in ("jax", "torch"):
        if importlib.util.find_spec(backend) is not None:
            groups[f"ours, as train_vae trains, KERAS_BACKEND={backend}"] = [Child({"KERAS_BACKEND": backend})]
    groups = {name: started for name, group in groups.items() if (started := start(group)) is not None}
    times = {name: [] for name in [*runs, *groups]}
    for _ in range(args.epochs):  # alternate, so that a slow spell of the machine hits all alike
        for name, epoch in runs.items():
            times[name].append(epoch())
        for name, group in groups.items():
            times[name].append(epoch_of(group))
    for group in groups.values():
        for child in group:
            child.close()
    rows = {name: float(np.median(seconds)) for name, seconds in times.items()}
    peak = matmul_rate()
    reference, fastest_reference = rows[REFERENCE], min(times[REFERENCE])
    print(f"median of {args.epochs} epochs each, and the fastest and slowest of them; Keras {keras.__version__}, "
          f"TensorFlow {tf.__version__}")
    print(f"{'implementation':52s} {'s/epoch':>8s} {'range':>11s} {'samples/s':>10s} {'vs ref':>7s} {'fastest':>8s} "
          f"{'GFLOP/s':>8s} {'of matmul':>9s}")
    for name, seconds in rows.items():
        rate = len(x) / seconds
        spread = f"{min(times[name]):.2f}-{max(times[name]):.2f}"
        print(f"{name:52s} {seconds:8.2f} {spread:>11s} {rate:10.0f} {reference / seconds:6.2f}x "
              f"{fastest_reference / min(times[name]):7.2f}x {rate * FLOPS_PER_SAMPLE / 1e9:8.1f} "
              f"{rate * FLOPS_PER_SAMPLE / peak:8.1%}")
    print(f"float32 matmul 2048x2048 on this machine: {peak / 1e9:.1f} GFLOP/s")
    keras_noise = noise_seconds(lambda shape, seed: keras.random.normal(shape, seed=seed))
    our_noise = noise_seconds(vae.standard_normal)
    print(f"posterior noise of a 32-D step (128x32 draws, XLA): keras.random.normal {keras_noise * 1e6:.0f} us, "
          f"vae.standard_normal {our_noise * 1e6:.0f} us ({keras_noise / our_noise:.1f}x; the same numbers)")
    print(f"a 32-D epoch with our noise takes {rows[NOISE_ROWS[0]] / rows[NOISE_ROWS[1]]:.0%} of one with Keras' "
          "(medians; the FLOP columns of the 32-D rows count a 2-D step)")
    print("(fastest: the reference's fastest epoch over the row's fastest, a ratio that the machine's slow spells, "
          "which only ever lengthen an epoch, move less than the medians')")
    print(f"(the {workers}-process row: the time of one epoch of all processes together, divided by {workers}; "
          "a pool's throughput)")


if __name__ == "__main__":
    main()
