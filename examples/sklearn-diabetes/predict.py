"""Inference for 'moo serve': load() once, predict() per request."""
import os
import pickle


def load(model_dir):
    with open(os.path.join(model_dir, "model.pkl"), "rb") as f:
        return pickle.load(f)


def predict(model, request):
    # request: {"instances": [[10 numbers], ...]}
    return {"predictions": model.predict(request["instances"]).tolist()}
