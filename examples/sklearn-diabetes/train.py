"""Train a ridge regression on scikit-learn's diabetes data (bundled: no download).

moo passes training_params three ways: as --name value options (used here), as
MOO_PARAM_<NAME> variables and as params.json in the working directory. Whatever is
written to MOO_OUTPUT_DIR (the output_folder) is collected as the result; lines of the
form 'moo:metric name=value' are recorded as metrics.
"""
import argparse
import json
import os
import pickle

from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=1.0)
parser.add_argument("--seed", type=int, default=0)
args, _ = parser.parse_known_args()

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=args.seed)
print(f"training Ridge(alpha={args.alpha}) on {len(X_train)} samples")
model = Ridge(alpha=args.alpha).fit(X_train, y_train)
pred = model.predict(X_test)
mae = mean_absolute_error(y_test, pred)
r2 = r2_score(y_test, pred)
print(f"MAE: {mae:.2f}")
print(f"moo:metric mae={mae:.4f} r2={r2:.4f}")

out = os.environ.get("MOO_OUTPUT_DIR", "training_result")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "model.pkl"), "wb") as f:
    pickle.dump(model, f)
with open(os.path.join(out, "metrics.json"), "w") as f:
    json.dump({"mae": round(mae, 4), "r2": round(r2, 4), "n_test": len(X_test)}, f)
print(f"model written to {os.path.join(out, 'model.pkl')}")
