"""Draws the sample images under Examples/media (photo.jpg, hand.jpg) with Pillow and numpy.

They are drawn, not photographed, so that the repository ships no third-party pictures; each is a
small real JPEG that `ova vision` and `ova sign` send as they would a camera's. Rerun with
`python3 Examples/media/make-samples.py` (needs `pip install pillow numpy`); the output is
deterministic.
"""
import pathlib

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = pathlib.Path(__file__).resolve().parent
rng = np.random.default_rng(12)


def grain(image: Image.Image, amount: float) -> Image.Image:
    pixels = np.asarray(image).astype(np.float32)
    pixels += rng.normal(0, amount, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def photo() -> Image.Image:
    """A street scene: sky, a house with a door and windows, a tree, a red ball on the grass."""
    w, h = 320, 240
    sky = np.linspace([110, 160, 225], [200, 225, 245], 150)
    ground = np.linspace([90, 150, 70], [60, 110, 45], h - 150)
    rows = np.concatenate([sky, ground])
    image = Image.fromarray(np.repeat(rows[:, None, :], w, axis=1).astype(np.uint8))
    d = ImageDraw.Draw(image)
    d.ellipse((255, 20, 295, 60), fill=(255, 236, 150))
    d.rectangle((60, 95, 180, 175), fill=(200, 170, 130), outline=(90, 70, 50))
    d.polygon([(50, 97), (120, 45), (190, 97)], fill=(150, 60, 50))
    d.rectangle((105, 125, 135, 175), fill=(100, 60, 35))
    d.ellipse((127, 148, 131, 152), fill=(230, 200, 80))
    for x in (72, 150):
        d.rectangle((x, 110, x + 20, 130), fill=(170, 210, 240), outline=(250, 250, 250), width=2)
    d.rectangle((236, 120, 248, 180), fill=(95, 65, 40))
    d.ellipse((205, 70, 280, 140), fill=(50, 120, 50))
    d.ellipse((200, 190, 226, 216), fill=(210, 40, 40))
    return grain(image.filter(ImageFilter.GaussianBlur(0.8)), 5)


def hand() -> Image.Image:
    """An open right hand, palm to the camera, fingers together and the thumb out (ASL "B")."""
    w, h = 240, 320
    image = Image.new("RGB", (w, h), (205, 210, 215))
    d = ImageDraw.Draw(image)
    skin, shade = (224, 172, 140), (196, 142, 112)
    d.rectangle((95, 250, 155, 320), fill=skin)                       # wrist
    d.rounded_rectangle((70, 150, 170, 265), radius=35, fill=skin)    # palm
    for i, (x, top) in enumerate([(72, 62), (97, 45), (122, 50), (147, 72)]):
        d.rounded_rectangle((x, top, x + 24, 180), radius=12, fill=skin, outline=shade)
        for crease in (top + 40, top + 75):
            d.line((x + 5, crease, x + 19, crease), fill=shade, width=2)
    d.polygon([(150, 200), (196, 160), (216, 178), (165, 255)], fill=skin)  # thumb
    d.ellipse((190, 152, 218, 180), fill=skin)
    d.arc((90, 190, 160, 250), 200, 340, fill=shade, width=2)         # palm line
    return grain(image.filter(ImageFilter.GaussianBlur(1.0)), 4)


if __name__ == "__main__":
    photo().save(HERE / "photo.jpg", quality=80, optimize=True)
    hand().save(HERE / "hand.jpg", quality=80, optimize=True)
    for name in ("photo.jpg", "hand.jpg"):
        print(name, (HERE / name).stat().st_size, "bytes")
