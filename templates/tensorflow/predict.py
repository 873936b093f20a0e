"""Inference for 'moo serve': load() once, predict() per request."""
import os

import numpy as np
import tensorflow as tf


def load(model_dir):
    return tf.keras.models.load_model(os.path.join(model_dir, "model.keras"))


def predict(model, request):
    # request: {"instances": [28x28 arrays, ...]}
    probs = model.predict(np.asarray(request["instances"], dtype=np.float32), verbose=0)
    return {"predictions": probs.argmax(axis=1).tolist()}
