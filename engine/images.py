"""Reading and fitting images for requests: one guarded loader for every image the app takes.

``read_image`` turns any file into RGB uint8 (H, W, 3) or raises an ``ImageError`` that names the file and
says what is wrong in plain words; what it had to change on the way (rotation, bit depth, colours,
transparency, frames) comes back as ``notes`` for the user. Nothing about a bad file ever escapes as a
traceback: Pillow decodes lazily and raises many kinds of exceptions, so the full decode happens here.
"""
from __future__ import annotations

import codecs
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import OmfaError

MAX_PIXELS = 80_000_000  # larger images are refused from the header, before decoding (decompression bombs)
DECODE_BUDGET = 512 << 20  # bytes one decoded image may take; a 79 MP RGB PNG (237 MB) fits, 16-bit RGBA does not
DEFAULT_MAX_SIDE = 4096  # a read image is downscaled to this long side at most (callers that need less ask less)
MAX_NONFINITE = 0.01     # a float image with more NaN/Inf pixels than this share is refused, not turned black
MIN_SIDE = 16            # smaller is an icon or a tracking pixel, not a photo
MAX_ASPECT = 8           # longer than 8:1 is a banner or a strip, and fitting it into a panel leaves nothing


class ImageError(OmfaError, ValueError):
    """A file that cannot be used as an image; ``str()`` is '<path>: <reason>'."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason

    def __reduce__(self):  # two arguments: pickling (e.g. to another process) must pass both back
        return type(self), (self.path, self.reason)


@dataclass
class ImageRead:
    pixels: np.ndarray              # RGB uint8 (H, W, 3), upright
    path: Path
    format: str                     # Pillow's name for it: "PNG", "JPEG", "GIF", ...
    size: tuple[int, int]           # (width, height) as stored in the file, before any EXIF rotation
    notes: list[str] = field(default_factory=list)  # what was changed to make it usable, for the user


# Pillow cannot open these; a recognisable header lets the message say what the file really is.
_NOT_IMAGES = [
    (b"%PDF", "is a PDF document, not an image file; export the page as PNG or JPEG"),
    (b"PK\x03\x04", "is a ZIP archive (or an Office document), not an image file"),
    (b"\x1f\x8b", "is a gzip-compressed file, not an image file; decompress it first"),
    (b"Rar!", "is a RAR archive, not an image file"),
    (b"7z\xbc\xaf", "is a 7-Zip archive, not an image file"),
    (b"\x7fELF", "is a program, not an image file"),
    (b"MZ\x90\x00", "is a Windows program, not an image file"),
]
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
# Headers of formats Pillow does read: if it still cannot identify the file, the file is damaged.
_IMAGE_MAGIC = [(b"\x89PNG", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"II*\x00", "TIFF"),
                (b"MM\x00*", "TIFF")]


def _what_is_it(head: bytes) -> str:
    """The reason for a file Pillow cannot identify, from its first bytes."""
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "is a HEIC/HEIF photo; HEIC is not supported, export it as PNG or JPEG"
    for magic, reason in _NOT_IMAGES:
        if head.startswith(magic):
            return reason
    name = next((n for magic, n in _IMAGE_MAGIC if head.startswith(magic)), None)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        name = "WebP"
    if name:
        return f"looks like a {name} file but is damaged: its header cannot be read"
    try:  # incremental: a multi-byte character cut off at the end of ``head`` is still text
        text = codecs.getincrementaldecoder("utf-8")().decode(head).lstrip("\ufeff \t\r\n").lower()
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text:
        if "<svg" in text or (text.startswith("<?xml") and "svg" in text):
            return "is an SVG drawing; SVG is not supported, export it as PNG or JPEG"
        if text.startswith(("<!doctype html", "<html")) or "<head" in text or "<body" in text:
            return "is a web page (HTML), not an image file; save the image itself instead"
        return "is a text file, not an image file"
    if head.startswith(b"BM"):  # after the text test: plenty of text starts with "BM"
        return "looks like a BMP file but is damaged: its header cannot be read"
    return "is not an image file Pillow can read (PNG, JPEG, WebP, BMP, TIFF, GIF)"


def _decode_problem(e: BaseException) -> str:
    from PIL import Image

    text = str(e)
    if isinstance(e, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"is too large to open safely (more than {MAX_PIXELS:,} pixels)"
    if isinstance(e, MemoryError):
        return "is too large to decode in the memory available"
    if isinstance(e, EOFError) or "truncated" in text.lower():
        return "is truncated (the file ends early: an interrupted download or copy?)"
    return f"is damaged: its image data cannot be decoded ({e.__class__.__name__}: {text})"


# Bytes per pixel of a decoded Pillow image, by mode (what load() allocates)
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3, "RGBA": 4, "RGBa": 4, "CMYK": 4,
               "RGBX": 4, "LA": 2, "La": 2, "PA": 2, "I": 4, "F": 4, "I;16": 2, "I;16L": 2, "I;16B": 2,
               "I;16N": 2}


def _decode_bytes(im) -> int:
    w, h = im.size
    return w * h * _MODE_BYTES.get(im.mode, 4)


def read_image(path: str | Path, max_side: int | None = DEFAULT_MAX_SIDE) -> ImageRead:
    """Read an image file as RGB uint8, upright, transparency on white; ``ImageError`` if it is unusable.

    Memory stays within a budget: a file whose decoded pixels would take more than ``DECODE_BUDGET`` is
    refused from its header, JPEGs are decoded at a reduced scale when that is enough, and an image longer
    than ``max_side`` pixels is downscaled right after decoding (before any conversion copies it), said in
    a note. ``max_side=None`` keeps the full size (within the budget). Pillow's own warnings come back as
    one-line notes, never on the console."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    # Checked before opening: open() on a folder or a FIFO fails obscurely or blocks forever.
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImageError(path, "does not exist (no such file)") from None
    except OSError as e:
        raise ImageError(path, f"cannot be read ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageError(path, "is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise ImageError(path, "is not a regular file (a device or a pipe?), not an image file")
    if st.st_size == 0:
        raise ImageError(path, "is empty (0 bytes), not an image file")
    try:
        f = open(path, "rb")  # one open for the sniffing and for Pillow: no race between checks and use
    except PermissionError:
        raise ImageError(path, "cannot be read: permission denied") from None
    except OSError as e:
        raise ImageError(path, f"cannot be read ({e.strerror or e})") from None
    with f, warnings.catch_warnings(record=True) as caught:
        # Pillow only *warns* between its limit and twice it: make that an error. Its other warnings (e.g.
        # "Corrupt EXIF data") are kept off the console: recorded, and what matters becomes a note.
        warnings.simplefilter("always")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        head = f.read(512)
        f.seek(0)
        try:
            im = Image.open(f)
        except UnidentifiedImageError:
            raise ImageError(path, _what_is_it(head)) from None
        except Exception as e:  # noqa: BLE001 - any plugin can fail on a crafted header
            raise ImageError(path, _decode_problem(e)) from None
        with im:
            w, h, fmt = *im.size, im.format or ""
            if w * h > MAX_PIXELS:
                raise ImageError(path, f"is {w}×{h} pixels, too large to open safely (at most {MAX_PIXELS:,})")
            if min(w, h) < MIN_SIDE:
                raise ImageError(path, f"is {w}×{h} pixels, too small (at least {MIN_SIDE} pixels on each side)")
            if max(w, h) > MAX_ASPECT * min(w, h):
                ratio = f"{round(w / h)}:1" if w > h else f"1:{round(h / w)}"
                raise ImageError(path, f"is {w}×{h} pixels, too long and thin ({ratio}; at most {MAX_ASPECT}:1)")
            notes: list[str] = []
            try:
                frames = getattr(im, "n_frames", 1)  # (counting GIF frames reads the whole file)
                if frames > 1:
                    notes.append(f"animated {im.format}: only the first of its {frames} frames is used")
                im.seek(0)
                if max_side and max(w, h) > max_side and fmt == "JPEG":
                    im.draft("RGB", (max_side, max_side))  # JPEG decodes at 1/2..1/8 scale: a fraction of the memory
                need = _decode_bytes(im)
                if need > DECODE_BUDGET:
                    raise ImageError(path, f"is {w}×{h} pixels ({im.mode}), which would take about {need >> 20} MB "
                                           f"of memory to open (at most {DECODE_BUDGET >> 20} MB); save it smaller")
                im.load()  # the full decode, here, so truncation and corrupt data are caught here
                im = _bounded(im, max_side, (w, h), notes)
                im = _upright(im, notes)
                pixels = _rgb(im, notes)
                _warnings_as_notes(caught, notes)
            except ImageError as e:
                raise ImageError(path, e.reason) from None
            except Exception as e:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, ValueError, zlib errors...
                raise ImageError(path, _decode_problem(e)) from None
            return ImageRead(pixels, path, fmt, (w, h), notes)


def _bounded(im, max_side: int | None, stored: tuple[int, int], notes: list[str]):
    """Downscale a decoded image to ``max_side`` on its long side, before the conversions copy it."""
    if not max_side or max(im.size) <= max_side:
        if im.size != stored:  # a JPEG draft already reduced it
            notes.append(f"read at {im.size[0]}×{im.size[1]} from {stored[0]}×{stored[1]} pixels "
                         f"(at most {max_side} on the long side is used)")
        return im
    from PIL import Image

    if im.mode == "P":  # resampling a palette image needs its colours
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    notes.append(f"downscaled from {stored[0]}×{stored[1]} to {im.size[0]}×{im.size[1]} pixels "
                 f"(at most {max_side} on the long side is used)")
    return im


def _warnings_as_notes(caught, notes: list[str]) -> None:
    """Pillow's warnings (corrupt EXIF, malformed MPO, odd palettes...) as the project's one-line notes."""
    for w in caught:
        text = " ".join(str(w.message).split())
        if "EXIF" in text:
            note = _EXIF_NOTE
        else:
            note = f"the image library warned: {text[:200]}"
        if note not in notes:
            notes.append(note)


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3); see ``read_image`` (this drops its notes)."""
    return read_image(path).pixels


_EXIF_NOTE = "its EXIF data is damaged and was ignored (the photo may be sideways)"


def _upright(im, notes: list[str]):
    """Apply the EXIF orientation (phones store photos sideways); a broken EXIF block is ignored, said so."""
    from PIL import ImageOps

    try:
        orientation = im.getexif().get(0x0112, 1)
        if orientation in (2, 3, 4, 5, 6, 7, 8):
            im = ImageOps.exif_transpose(im)
            notes.append("rotated upright as its EXIF orientation says")
    except Exception:  # noqa: BLE001 - EXIF is metadata: bad metadata must not cost the picture
        notes.append(_EXIF_NOTE)
    return im


def _rgb(im, notes: list[str]) -> np.ndarray:
    """Any Pillow mode -> RGB uint8 (H, W, 3); alpha is composited on white."""
    from PIL import Image

    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        # Pillow's own convert clips these to 0..255 (a 16-bit photo turns white): scale them instead.
        a = np.asarray(im, dtype=np.float32)
        bad = ~np.isfinite(a)
        if bad.any():
            share = float(bad.mean())
            if share > MAX_NONFINITE:
                raise ImageError("image", f"holds NaN or infinite values in {share:.0%} of its pixels (a float "
                                          "image that is not a picture, or a damaged one)")
            notes.append(f"{int(bad.sum())} NaN or infinite pixel value(s) set to black")
            a = np.where(bad, 0.0, a).astype(np.float32)
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        if mode == "F" and lo >= 0 and hi <= 1:
            a, what = a * 255, "32-bit floating-point image scaled to 8 bits"
        elif mode == "I" and lo >= 0 and hi <= 255:
            what = ""  # 8-bit values stored as integers: nothing to scale
        elif mode != "F" and lo >= 0 and hi <= 65535:
            a, what = a / 257, "16-bit image reduced to 8 bits per channel"
        else:  # no known range: stretch what is there
            a, what = (a - lo) * (255 / max(hi - lo, 1e-12)), f"{mode} values {lo:g}..{hi:g} stretched to 8 bits"
        if what:
            notes.append(what)
        return np.repeat(np.clip(a.round(), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if mode == "CMYK":
        notes.append("CMYK colours converted to RGB (approximately: print colours differ)")
    elif mode == "LAB":
        # Pillow's convert() treats LAB as if it were RGB; a colour transform gives the real colours.
        from PIL import ImageCms

        lab_to_srgb = ImageCms.buildTransform(ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"),
                                              "LAB", "RGB")
        im = ImageCms.applyTransform(im, lab_to_srgb)
        notes.append("LAB colours converted to RGB")
    if mode.upper().endswith("A") or "transparency" in im.info:  # RGBA, LA, PA, RGBa, La; or a tRNS colour
        im = im.convert("RGBA")
        if im.getextrema()[3][0] < 255:  # an opaque alpha channel is common; flattening it is no news
            notes.append("transparency flattened on white")
        im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), im)
    try:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except ValueError:
        raise ImageError("image", f"has a pixel format Pillow cannot convert to RGB (mode {mode})") from None


def to_rgb(im) -> np.ndarray:
    """A PIL image or array in any common mode -> RGB uint8 (H, W, 3), alpha over white."""
    from PIL import Image

    if isinstance(im, np.ndarray):
        arr = im
        if arr.dtype != np.uint8:
            if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.max() <= 1.0:
                arr = (arr * 255).round()
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        im = Image.fromarray(arr)
    return _rgb(_upright(im, []), [])


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


class PanelProcessor:
    """Fits a request's images to the panels of a layout, for the pipeline (as diffusers' VaeImageProcessor
    resizes a pipeline's inputs): callers give images of any size and never resize them themselves.

    ``layout`` is an :class:`engine.layout.PanelLayout` (anything with ``panel_size(name) -> (w, h)``).
    An image already at its panel's size (RGB uint8) is kept as is, not copied.
    """

    def __init__(self, layout, background: tuple[int, int, int] = (255, 255, 255)) -> None:
        self.layout = layout
        self.background = background

    def __call__(self, image, panel: str) -> np.ndarray:
        """(H, W, 3) uint8 of any size -> (h, w, 3) uint8 at ``panel``'s size, letterboxed on ``background``."""
        w, h = self.layout.panel_size(panel)
        if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.shape == (h, w, 3):
            return image
        return fit(image, w, h, self.background)
