"""Inference for 'moo serve': a picture of a digit (PNG, JPEG: any size, dark ink on a light
background or the other way round) or rows of 64 pixel values 0..16 -> the digit."""
import io
import os
import pickle


def load(model_dir):
    with open(os.path.join(model_dir, "model.pkl"), "rb") as f:
        return pickle.load(f)


def _pixels(data):
    """An image's bytes as the 64 values 0..16 that load_digits uses (ink high)."""
    from PIL import Image  # python3-pil; only pictures need it

    img = Image.open(io.BytesIO(data)).convert("L").resize((8, 8), Image.LANCZOS)
    px = list(img.getdata())
    if sum(px) / len(px) > 127:  # a light background: ink is dark
        px = [255 - p for p in px]
    return [p * 16.0 / 255.0 for p in px]


def predict(model, request):
    if "body" in request:
        rows = [_pixels(request["body"])]
    elif "body_file" in request:
        with open(request["body_file"], "rb") as f:
            rows = [_pixels(f.read())]
    else:
        rows = request["instances"]
    return {"predictions": model.predict(rows).tolist()}
