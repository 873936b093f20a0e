"""Prints a few lines, then fails the way real training does."""
import sys

for epoch in range(1, 4):
    print(f"epoch {epoch}: loss={1.0 / epoch:.3f}")
    print(f"moo:metric loss={1.0 / epoch:.3f} step={epoch}")
print("error: the data ran out at epoch 3", file=sys.stderr)
sys.exit(1)
