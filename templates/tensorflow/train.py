"""Train a small Keras classifier on MNIST-shaped data.

The data here is random so the template runs offline; replace load_data() with your own.
moo passes training_params as --name value options (and MOO_PARAM_<NAME> variables,
and params.json); whatever lands in output_folder is collected as the result.
"""
import argparse
import os

import numpy as np
import tensorflow as tf

parser = argparse.ArgumentParser()
parser.add_argument("--learning_rate", type=float, default=0.001)
parser.add_argument("--loss", default="sparse_categorical_crossentropy")
parser.add_argument("--batch_size", type=int, default=128)
parser.add_argument("--epoch", type=int, default=3)
parser.add_argument("--optimizer", default="adam")
args, _ = parser.parse_known_args()


def load_data():
    rng = np.random.default_rng(0)
    return rng.random((2048, 28, 28), dtype=np.float32), rng.integers(0, 10, 2048)


x, y = load_data()
model = tf.keras.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax"),
])
opt = tf.keras.optimizers.get({"class_name": args.optimizer, "config": {"learning_rate": args.learning_rate}})
model.compile(optimizer=opt, loss=args.loss, metrics=["accuracy"])
history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epoch, verbose=2)
for i, acc in enumerate(history.history["accuracy"]):
    print(f"moo:metric accuracy={acc:.4f} step={i + 1}")

out = os.environ.get("MOO_OUTPUT_DIR", "training_result")
os.makedirs(out, exist_ok=True)
model.save(os.path.join(out, "model.keras"))
