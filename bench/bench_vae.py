"""Benchmark: training throughput of our Keras VAE against a reference written in the style of
the TensorFlow CVAE tutorial (the same architecture, a GradientTape step inside tf.function),
on the full MNIST training set, batch 128, 2-D latent space, in one run.

Also measures the machine's float32 matrix-multiply rate, to say how close training comes to it.
    python bench/bench_vae.py [--epochs 3]

The reference runs on TensorFlow; our model is timed on TensorFlow in the same process and,
where JAX is installed, on JAX in a child process (KERAS_BACKEND is fixed per process).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from helpers import data, vae, vae_training  # noqa: E402

#: Multiply-adds per sample of one training step (forward and about twice that backward), 784-256-256-2.
FLOPS_PER_SAMPLE = 3 * 2 * (784 * 256 + 256 * 256 + 256 * 4 + 2 * 256 + 256 * 256 + 256 * 784)


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


def reference_epoch(x):
    """A function that trains the reference for one epoch and returns its seconds."""
    model = ReferenceVAE()
    step = reference_step_fn(model, keras.optimizers.Adam(1e-3))
    dataset = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=0).batch(128)
    for batch in dataset.take(5):  # trace and warm up
        step(batch)

    def epoch():
        start = time.perf_counter()
        for batch in dataset:
            step(batch)
        return time.perf_counter() - start

    return epoch


def our_epoch(x, **compile_options):
    """The same for our VAE: compiled as train_vae compiles it, or with ``compile_options``."""
    keras.utils.set_random_seed(0)
    model = vae.VAE(784, 2)
    if compile_options:
        model.compile(optimizer=keras.optimizers.Adam(1e-3), **compile_options)
    else:
        vae_training.compile_for_training(model, vae_training.TrainingConfig(), len(x))
    model.fit(x, None, batch_size=128, epochs=1, verbose=0)  # trace (both batch shapes) and warm up

    def epoch():
        start = time.perf_counter()
        model.fit(x, None, batch_size=128, epochs=1, verbose=0, shuffle=True)
        return time.perf_counter() - start

    return epoch


def other_backend(backend, epochs):
    """Median seconds per epoch of our default training on another Keras backend, or None."""
    if importlib.util.find_spec(backend) is None:
        return None
    command = [sys.executable, __file__, "--worker", "--epochs", str(epochs)]
    done = subprocess.run(command, env={**os.environ, "KERAS_BACKEND": backend}, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        print(f"{backend} run failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def matmul_rate(n=2048, repeats=20):
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    tf.matmul(a, b).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        c = tf.matmul(a, b)
    c.numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per implementation (median reported)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    (images, _), _ = data.load_mnist()
    x = (images.reshape(-1, 784) / 255.0).astype(np.float32)  # the full training set
    if args.worker:  # time our default training on this process's backend only
        epoch = our_epoch(x)
        print(json.dumps(float(np.median([epoch() for _ in range(args.epochs)]))))
        return
    runs = {"reference (tf.function + GradientTape)": reference_epoch(x),
            "ours, as train_vae trains (one call per epoch)": our_epoch(x),
            "ours, Keras fit defaults (one call per step)": our_epoch(x, jit_compile="auto")}
    times = {name: [] for name in runs}
    for _ in range(args.epochs):  # alternate, so that a slow spell of the machine hits all alike
        for name, epoch in runs.items():
            times[name].append(epoch())
    rows = {name: float(np.median(seconds)) for name, seconds in times.items()}
    for backend in ("jax",):
        seconds = other_backend(backend, args.epochs)
        if seconds is not None:
            rows[f"ours, as train_vae trains, KERAS_BACKEND={backend}"] = seconds
    peak = matmul_rate()
    reference = rows["reference (tf.function + GradientTape)"]
    print(f"median of {args.epochs} epochs each; Keras {keras.__version__}, TensorFlow {tf.__version__}")
    print(f"{'implementation':52s} {'s/epoch':>8s} {'samples/s':>10s} {'vs ref':>7s} {'GFLOP/s':>8s} {'of matmul':>9s}")
    for name, seconds in rows.items():
        rate = len(x) / seconds
        print(f"{name:52s} {seconds:8.2f} {rate:10.0f} {reference / seconds:6.2f}x "
              f"{rate * FLOPS_PER_SAMPLE / 1e9:8.1f} {rate * FLOPS_PER_SAMPLE / peak:8.1%}")
    print(f"float32 matmul 2048x2048 on this machine: {peak / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
