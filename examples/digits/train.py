"""Train a support vector classifier on scikit-learn's 8x8 digits (bundled: no download)."""
import argparse
import json
import os
import pickle

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

parser = argparse.ArgumentParser()
parser.add_argument("--c", type=float, default=10.0)
parser.add_argument("--gamma", type=float, default=0.001)
parser.add_argument("--seed", type=int, default=0)
args, _ = parser.parse_known_args()

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=args.seed)
model = SVC(C=args.c, gamma=args.gamma).fit(X_train, y_train)
accuracy = float((model.predict(X_test) == y_test).mean())
print(f"moo:metric accuracy={accuracy:.4f}")

out = os.environ.get("MOO_OUTPUT_DIR", "training_result")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "model.pkl"), "wb") as f:
    pickle.dump(model, f)
with open(os.path.join(out, "metrics.json"), "w") as f:
    json.dump({"accuracy": round(accuracy, 4), "n_test": len(X_test)}, f)
