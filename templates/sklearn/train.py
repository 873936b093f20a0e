"""Train a ridge regression on scikit-learn's diabetes data.

moo passes training_params as --name value options (and MOO_PARAM_<NAME> variables,
and params.json); whatever lands in output_folder is collected as the result.
"""
import argparse
import os
import pickle

from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=1.0)
parser.add_argument("--seed", type=int, default=0)
args, _ = parser.parse_known_args()

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=args.seed)
model = Ridge(alpha=args.alpha).fit(X_train, y_train)
mae = mean_absolute_error(y_test, model.predict(X_test))
print(f"moo:metric mae={mae:.4f}")

out = os.environ.get("MOO_OUTPUT_DIR", "training_result")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "model.pkl"), "wb") as f:
    pickle.dump(model, f)
