"""Reading and fitting images for requests: clear errors, never a traceback for a bad file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_PIXELS = 80_000_000  # larger images are refused before decoding (decompression bombs)


class ImageError(ValueError):
    pass


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3); transparency is composited on white."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_PIXELS:
                raise ImageError(f"{path}: {im.width}x{im.height} is too large (at most {MAX_PIXELS:,} pixels)")
            return to_rgb(im)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read (PNG, JPEG, WebP, ...)") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{path}: too large to open safely (at most {MAX_PIXELS:,} pixels)") from None
    except OSError as e:
        raise ImageError(f"{path}: could not be read ({e})") from None


def to_rgb(im) -> np.ndarray:
    """A PIL image or array in any common mode -> RGB uint8 (H, W, 3), alpha over white."""
    from PIL import Image, ImageOps

    if isinstance(im, np.ndarray):
        arr = im
        if arr.dtype != np.uint8:
            if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.max() <= 1.0:
                arr = (arr * 255).round()
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        im = Image.fromarray(arr)
    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def fit(image, width: int, height: int, background=(255, 255, 255)) -> np.ndarray:
    """Scale to fit inside width x height keeping the aspect ratio, centred on ``background``."""
    from PIL import Image

    rgb = to_rgb(image)
    h, w = rgb.shape[:2]
    if (w, h) == (width, height):
        return rgb
    s = min(width / w, height / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    small = Image.fromarray(rgb).resize((nw, nh), Image.LANCZOS)
    canvas = Image.new("RGB", (width, height), tuple(background))
    canvas.paste(small, ((width - nw) // 2, (height - nh) // 2))
    return np.asarray(canvas, dtype=np.uint8).copy()
