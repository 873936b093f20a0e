"""Writes data/images.npy and data/labels.npy: a small EMNIST-style sample, generated (no download).

Each image is one of the ten digits drawn as seven-segment-like strokes on a 28x28 canvas,
shifted, thickened and noised at random, with its label: enough for the seed's model to
learn in seconds on a CPU, and the same bytes on every machine (a fixed seed), so its
sha256 does not change (.npy files: no time stamps inside, unlike .npz).
'python3 make_data.py [N]' (default 2000 images).
"""
import os
import sys

import numpy as np

# segments: a (top) b (top right) c (bottom right) d (bottom) e (bottom left) f (top left) g (middle)
SEGMENTS = {
    0: "abcdef", 1: "bc", 2: "abged", 3: "abgcd", 4: "fgbc",
    5: "afgcd", 6: "afgedc", 7: "abc", 8: "abcdefg", 9: "abcdfg",
}


def draw(digit, rng):
    img = np.zeros((28, 28), dtype=np.float32)
    x0, y0 = 8 + rng.integers(-3, 4), 4 + rng.integers(-2, 3)
    w, h = 10 + rng.integers(-1, 3), 9 + rng.integers(-1, 2)
    t = 1 + rng.integers(0, 2)
    lines = {
        "a": (x0, y0, x0 + w, y0), "d": (x0, y0 + 2 * h, x0 + w, y0 + 2 * h),
        "g": (x0, y0 + h, x0 + w, y0 + h), "f": (x0, y0, x0, y0 + h),
        "b": (x0 + w, y0, x0 + w, y0 + h), "e": (x0, y0 + h, x0, y0 + 2 * h),
        "c": (x0 + w, y0 + h, x0 + w, y0 + 2 * h),
    }
    for s in SEGMENTS[digit]:
        xa, ya, xb, yb = lines[s]
        for k in range(25):
            x = int(round(xa + (xb - xa) * k / 24))
            y = int(round(ya + (yb - ya) * k / 24))
            img[max(0, y - t + 1) : min(28, y + t), max(0, x - t + 1) : min(28, x + t)] = 1.0
    img += rng.normal(0, 0.15, img.shape).astype(np.float32)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rng = np.random.default_rng(2017)
    labels = rng.integers(0, 10, n)
    images = np.stack([draw(int(d), rng) for d in labels])
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "data"), exist_ok=True)
    np.save(os.path.join(here, "data", "images.npy"), images)
    np.save(os.path.join(here, "data", "labels.npy"), labels.astype(np.int64))
    print(f"data/: {n} images")


if __name__ == "__main__":
    main()
