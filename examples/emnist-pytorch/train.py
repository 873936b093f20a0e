"""The seed's EMNIST model in PyTorch: two convolutions, max-pooling, a dense layer.

moo places the dataset (metadata.yaml's dataset.source) on the host once and hands its
folder to the job as MOO_DATASET_DIR; training_params arrive as --name value options;
what lands in MOO_OUTPUT_DIR (training_result) is the result moo collects.
"""
import argparse
import json
import os

import numpy as np
import torch
from torch import nn

from model import EMNIST

parser = argparse.ArgumentParser()
parser.add_argument("--learning_rate", type=float, default=0.002)
parser.add_argument("--batch_size", type=int, default=64)
parser.add_argument("--epoch", type=int, default=3)
parser.add_argument("--seed", type=int, default=0)
args, _ = parser.parse_known_args()

torch.manual_seed(args.seed)
torch.set_num_threads(int(os.environ.get("THREADS", "1")))
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"device: {device}" + (f" ({torch.cuda.get_device_name(0)})" if device.type == "cuda" else ""))

data_dir = os.environ.get("MOO_DATASET_DIR", "data")
images = np.load(os.path.join(data_dir, "images.npy"))
labels = np.load(os.path.join(data_dir, "labels.npy"))
X = torch.from_numpy(images).float().div(255).unsqueeze(1)
y = torch.from_numpy(labels)
split = int(0.8 * len(X))
Xtr, ytr, Xte, yte = X[:split], y[:split], X[split:], y[split:]
print(f"dataset: {len(X)} images from {data_dir}")


model = EMNIST().to(device)
opt = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(args.epoch):
    model.train()
    perm = torch.randperm(len(Xtr))
    for i in range(0, len(Xtr), args.batch_size):
        idx = perm[i : i + args.batch_size]
        opt.zero_grad()
        loss = loss_fn(model(Xtr[idx].to(device)), ytr[idx].to(device))
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(Xte.to(device)).argmax(1).cpu() == yte).float().mean().item()
    print(f"moo:metric loss={loss.item():.4f} accuracy={acc:.4f} step={epoch + 1}")

out = os.environ.get("MOO_OUTPUT_DIR", "training_result")
os.makedirs(out, exist_ok=True)
torch.save(model.state_dict(), os.path.join(out, "model.pt"))
with open(os.path.join(out, "metrics.json"), "w") as f:
    json.dump({"accuracy": acc}, f)
print(f"accuracy: {acc:.4f}")
