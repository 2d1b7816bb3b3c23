"""Benchmark: training throughput of our Keras VAE against a reference written in the style of
the TensorFlow CVAE tutorial (the same architecture, a GradientTape step inside tf.function),
on the full MNIST training set, batch 128, 2-D latent space, in one run.

Also measures the machine's float32 matrix-multiply rate, to say how close training comes to it.
    python bench/bench_vae.py [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from helpers import mnist, vae  # noqa: E402

#: Multiply-adds per sample of one training step (forward and about twice that backward), 784-256-256-2.
FLOPS_PER_SAMPLE = 3 * 2 * (784 * 256 + 256 * 256 + 256 * 4 + 2 * 256 + 256 * 256 + 256 * 784)


class ReferenceVAE:
    """The tutorial's structure: encoder and decoder Sequentials, reparameterise, tf.function step."""

    def __init__(self, latent_dim=2):
        self.encoder = keras.Sequential([keras.Input((784,)), keras.layers.Dense(256, activation="relu"),
                                         keras.layers.Dense(256, activation="relu"), keras.layers.Dense(2 * latent_dim)])
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
            nll = tf.reduce_sum(0.5 * ((x - x_mean) * tf.exp(-model.log_sigma)) ** 2 + 0.5 * log2pi + model.log_sigma, 1)
            kl = 0.5 * tf.reduce_sum(tf.exp(logvar) + mean**2 - 1.0 - logvar, 1)
            loss = tf.reduce_mean(nll + kl)
        variables = model.encoder.trainable_variables + model.decoder.trainable_variables + [model.log_sigma]
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return step


def time_reference(x, epochs):
    model = ReferenceVAE()
    step = reference_step_fn(model, keras.optimizers.Adam(1e-3))
    dataset = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=0).batch(128)
    for batch in dataset.take(5):  # trace and warm up
        step(batch)
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in dataset:
            step(batch)
    return (time.perf_counter() - start) / epochs


def time_ours(x, epochs, **compile_options):
    keras.utils.set_random_seed(0)
    model = vae.VAE(784, 2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), **compile_options)
    model.fit(x[:1280], None, batch_size=128, epochs=1, verbose=0)  # trace and warm up
    start = time.perf_counter()
    model.fit(x, None, batch_size=128, epochs=epochs, verbose=0, shuffle=True)
    return (time.perf_counter() - start) / epochs


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
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    (x, _), _ = mnist.load_flat()
    rows = {"reference (tf.function + GradientTape)": time_reference(x, args.epochs),
            "ours, Keras fit (XLA where available)": time_ours(x, args.epochs, jit_compile="auto"),
            "ours, Keras fit, no XLA": time_ours(x, args.epochs, jit_compile=False),
            "ours, one compiled call per epoch (XLA)": time_ours(x, args.epochs, jit_compile="auto",
                                                                 steps_per_execution=469)}
    peak = matmul_rate()
    reference = rows["reference (tf.function + GradientTape)"]
    print(f"{'implementation':44s} {'s/epoch':>8s} {'samples/s':>10s} {'vs ref':>7s} {'GFLOP/s':>8s} {'of matmul':>9s}")
    for name, seconds in rows.items():
        rate = len(x) / seconds
        print(f"{name:44s} {seconds:8.2f} {rate:10.0f} {reference / seconds:6.2f}x {rate * FLOPS_PER_SAMPLE / 1e9:8.1f} "
              f"{rate * FLOPS_PER_SAMPLE / peak:8.1%}")
    print(f"float32 matmul 2048x2048 on this machine: {peak / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
