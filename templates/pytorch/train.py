"""Train a small network on synthetic data with PyTorch, on the GPU when there is one.

moo passes training_params as --name value options (and MOO_PARAM_<NAME> variables,
and params.json); whatever lands in output_folder is collected as the result.
"""
import argparse
import os

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--learning_rate", type=float, default=0.01)
parser.add_argument("--batch_size", type=int, default=64)
parser.add_argument("--epoch", type=int, default=5)
parser.add_argument("--optimizer", default="adam")
parser.add_argument("--seed", type=int, default=0)
args, _ = parser.parse_known_args()

torch.manual_seed(args.seed)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"device: {device}" + (f" ({torch.cuda.get_device_name(0)})" if device.type == "cuda" else ""))

X = torch.randn(4096, 16)
y = X @ torch.randn(16, 1) + 0.1 * torch.randn(4096, 1)
model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)).to(device)
opt_cls = torch.optim.Adam if args.optimizer == "adam" else torch.optim.SGD
opt = opt_cls(model.parameters(), lr=args.learning_rate)
loss_fn = torch.nn.MSELoss()

for epoch in range(args.epoch):
    perm = torch.randperm(len(X))
    for i in range(0, len(X), args.batch_size):
        idx = perm[i : i + args.batch_size]
        xb, yb = X[idx].to(device), y[idx].to(device)
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    print(f"moo:metric loss={loss.item():.5f} step={epoch + 1}")

out = os.environ.get("MOO_OUTPUT_DIR", "training_result")
os.makedirs(out, exist_ok=True)
torch.save(model.state_dict(), os.path.join(out, "model.pt"))
