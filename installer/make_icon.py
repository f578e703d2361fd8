"""Draw the app icon with Pillow: resources/icons/omfa-desktop.png (256 px) and .ico (16-256 px, Windows).

    python installer/make_icon.py      # rewrites both; the files are committed, builds only read them

A T-shirt (the demo model's garment) on a rounded square, in the app's colours; no third-party artwork.
"""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"


def draw(size: int = 256) -> Image.Image:
    s = 4 * size  # draw large, then downsample: smooth edges without anti-aliasing support in ImageDraw
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0.04 * s, 0.04 * s, 0.96 * s, 0.96 * s), radius=0.2 * s, fill=(36, 52, 92, 255))
    d.rounded_rectangle((0.04 * s, 0.50 * s, 0.96 * s, 0.96 * s), radius=0.2 * s, fill=(52, 70, 116, 255))
    d.rectangle((0.04 * s, 0.50 * s, 0.96 * s, 0.70 * s), fill=(52, 70, 116, 255))  # two-tone background
    shirt = [(0.30, 0.22), (0.42, 0.18), (0.46, 0.24), (0.54, 0.24), (0.58, 0.18), (0.70, 0.22), (0.86, 0.38),
             (0.76, 0.48), (0.70, 0.42), (0.70, 0.82), (0.30, 0.82), (0.30, 0.42), (0.24, 0.48), (0.14, 0.38)]
    d.polygon([(x * s, y * s) for x, y in shirt], fill=(245, 245, 240, 255))
    for k, color in enumerate(((230, 90, 60, 255), (60, 140, 230, 255))):  # two stripes
        y = (0.52 + 0.12 * k) * s
        d.rectangle((0.30 * s, y, 0.70 * s, y + 0.06 * s), fill=color)
    return img.resize((size, size), Image.LANCZOS)


def main(folder: Path = ICONS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    img = draw(256)
    png, ico = folder / "omfa-desktop.png", folder / "omfa-desktop.ico"
    img.save(png, optimize=True)
    img.save(ico, sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    return [png, ico]


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else ICONS):
        print(f"wrote {p}")
