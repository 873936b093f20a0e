"""Inference for 'moo serve': load() once, predict() per request.

request: {"instances": [28x28 grey levels 0-255 (a list of 28 lists of 28), ...]}
answer:  {"predictions": [digit, ...]}
"""
import os

import torch

from model import EMNIST


def load(model_dir):
    model = EMNIST()
    model.load_state_dict(torch.load(os.path.join(model_dir, "model.pt"), map_location="cpu"))
    model.eval()
    return model


def predict(model, request):
    x = torch.tensor(request["instances"], dtype=torch.float32).div(255).unsqueeze(1)
    with torch.no_grad():
        return {"predictions": model(x).argmax(1).tolist()}
