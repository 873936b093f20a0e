"""Inference for 'moo serve': load() once, predict() per request."""
import os

import torch


def load(model_dir):
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    model.load_state_dict(torch.load(os.path.join(model_dir, "model.pt"), map_location="cpu"))
    model.eval()
    return model


def predict(model, request):
    # request: {"instances": [[16 numbers], ...]}
    with torch.no_grad():
        return {"predictions": model(torch.tensor(request["instances"])).squeeze(1).tolist()}
