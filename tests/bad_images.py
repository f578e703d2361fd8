"""A corpus of bad and of odd-but-valid image files, made on the fly (no binary fixtures in the repository).

    make_bad_images(folder) -> [(path, words the error must contain)]
    make_odd_images(folder) -> [OddImage(path, shape, rgb at the centre, words a note must contain)]
"""
from __future__ import annotations

import gzip
import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, depth: int = 8, color: int = 2, raw: bytes | None = None) -> bytes:
    """A PNG written by hand: any header (bombs) and 16-bit RGB, which Pillow cannot write."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    idat = zlib.compress(raw if raw is not None else b"\x00" * 64)  # a bomb's data is never reached
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _noise(w: int = 64, h: int = 64) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8))


def _zip() -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("photo.png", _encode(_noise(), "PNG"))
    return b.getvalue()


def make_bad_images(folder: str | Path) -> list[tuple[Path, str]]:
    """Files (and non-files) that must each be refused with a clear ImageError; ``folder`` must exist."""
    folder = Path(folder)
    png, jpeg = _encode(_noise(), "PNG"), _encode(_noise(), "JPEG", quality=90)
    gif, tiff = _encode(_noise(), "GIF"), _encode(_noise(), "TIFF")
    corrupt = bytearray(png)
    corrupt[len(png) // 2:len(png) // 2 + 64] = bytes(64)
    bad_crc = bytearray(png)
    bad_crc[29] ^= 0xFF  # the IHDR checksum
    heic = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic" + os.urandom(256)
    files: dict[str, tuple[bytes, str]] = {
        "empty.png": (b"", "empty (0 bytes)"),
        "notes.png": (b"Shopping list:\n- milk\n- bread\n" * 20, "text file"),
        "data.webp": ('{"photo": "not here", "ünïcode": true}\n'.encode() * 30, "text file"),
        "page.jpg": (b"<!DOCTYPE html>\n<html><head><title>Photo</title></head><body><img src=x.jpg></body></html>",
                     "web page (HTML)"),
        "document.png": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" * 10, "PDF document"),
        "archive.jpg": (_zip(), "ZIP archive"),
        "compressed.png": (gzip.compress(png), "gzip-compressed"),
        "drawing.png": (b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle r="9"/></svg>',
                        "SVG is not supported"),
        "drawing_xml.jpg": (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>',
                            "SVG is not supported"),
        "photo.heic": (heic, "HEIC is not supported"),
        "iphone_renamed.jpg": (heic, "HEIC is not supported"),
        "noise.png": (np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes(), "not an image file"),
        "zeros.png": (bytes(4096), "not an image file"),
        "program.png": (b"\x7fELF\x02\x01\x01" + bytes(200), "is a program"),
        "truncated.png": (png[:len(png) // 2], "truncated"),
        "truncated.jpg": (jpeg[:len(jpeg) // 2], "truncated"),
        "truncated.gif": (gif[:len(gif) // 2], "truncated"),
        "truncated.tiff": (tiff[:len(tiff) // 2], "truncated"),
        "no_pixels.png": (png[:png.index(b"IDAT") - 4] + _chunk(b"IEND", b""), "damaged"),
        "corrupt_middle.png": (bytes(corrupt), "damaged"),
        "bad_checksum.png": (bytes(bad_crc), "looks like a PNG file but is damaged"),
        "jpeg_stub.jpg": (jpeg[:20], "looks like a JPEG file but is damaged"),
        "truncated.webp": (_encode(_noise(), "WEBP")[:300], "damaged"),
        "bomb_20000x20000.png": (_png(20000, 20000), "too large"),  # Pillow raises DecompressionBombError
        "bomb_9500x9500.png": (_png(9500, 9500), "too large"),  # Pillow only warns: must be an error too
        "big_9000x9000.png": (_png(9000, 9000), "too large"),  # under Pillow's limit, over ours
        "bomb.gif": (b"GIF89a" + struct.pack("<HH", 65535, 65535) + bytes(3) + b"\x2c" + bytes(9)
                     + b"\x02\x02D\x01\x00;", "too large"),
        "tiny_8x8.png": (_encode(_noise(8, 8), "PNG"), "too small"),
        "pixel.gif": (_encode(Image.new("P", (1, 1)), "GIF"), "too small"),
        "banner_400x20.png": (_encode(_noise(400, 20), "PNG"), "too long and thin"),
        "strip_20x400.jpg": (_encode(_noise(20, 400), "JPEG"), "too long and thin"),
    }
    out = []
    for name, (data, words) in files.items():
        (folder / name).write_bytes(data)
        out.append((folder / name, words))
    out.append((folder / "missing.png", "no such file"))
    (folder / "dangling.png").symlink_to(folder / "gone.png")
    out.append((folder / "dangling.png", "no such file"))
    (folder / "folder.png").mkdir()
    out.append((folder / "folder.png", "is a folder"))
    os.mkfifo(folder / "pipe.png")  # reading it would block forever
    out.append((folder / "pipe.png", "not a regular file"))
    locked = folder / "locked.png"
    locked.write_bytes(png)
    locked.chmod(0)
    if not os.access(locked, os.R_OK):  # root reads anything: then this case cannot be made
        out.append((locked, "permission denied"))
    else:
        locked.unlink()
    return out


@dataclass
class OddImage:
    path: Path
    shape: tuple[int, int, int]
    rgb: tuple[int, int, int]   # expected at the centre, give or take a few levels
    note: str | None            # words one of the notes must contain (None: no notes at all)


def make_odd_images(folder: str | Path) -> list[OddImage]:
    """Unusual but valid files: each must load, upright, with the right colours and an honest note."""
    folder = Path(folder)
    odd: list[OddImage] = []

    def add(name: str, data: bytes, shape, rgb, note) -> None:
        (folder / name).write_bytes(data)
        odd.append(OddImage(folder / name, shape, rgb, note))

    add("cmyk.jpg", _encode(Image.new("CMYK", (32, 32), (255, 0, 0, 0)), "JPEG"), (32, 32, 3), (0, 255, 255), "CMYK")
    grey16 = Image.fromarray(np.full((32, 48), 32896, np.uint16))  # 32896 = 128 * 257
    add("grey16.png", _encode(grey16, "PNG"), (32, 48, 3), (128, 128, 128), "16-bit")
    add("grey16_bigendian.tiff", _encode(Image.fromarray(np.full((32, 32), 32896, ">u2")), "TIFF"), (32, 32, 3),
        (128, 128, 128), "16-bit")
    add("int32.tiff", _encode(Image.fromarray(np.full((32, 32), 51400, np.int32)), "TIFF"), (32, 32, 3),
        (200, 200, 200), "16-bit")
    add("float.tiff", _encode(Image.fromarray(np.full((32, 32), 0.5, np.float32)), "TIFF"), (32, 32, 3),
        (128, 128, 128), "floating-point")
    add("rgb16.png", _png(32, 32, 16, 2, b"".join(b"\x00" + b"\x80\x00\x40\x00\xff\xff" * 32 for _ in range(32))),
        (32, 32, 3), (128, 64, 255), None)  # Pillow itself reads 16-bit colour as 8-bit
    pal = Image.new("P", (32, 32), 1)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    add("palette_transparent.png", _encode(pal, "PNG", transparency=1), (32, 32, 3), (255, 255, 255), "transparency")
    add("palette.gif", _encode(pal, "GIF"), (32, 32, 3), (0, 0, 255), None)
    add("grey_alpha.png", _encode(Image.new("LA", (32, 32), (0, 0)), "PNG"), (32, 32, 3), (255, 255, 255),
        "transparency")
    add("opaque_rgba.png", _encode(Image.new("RGBA", (32, 32), (10, 20, 30, 255)), "PNG"), (32, 32, 3),
        (10, 20, 30), None)
    add("grey.png", _encode(Image.new("L", (32, 32), 77), "PNG"), (32, 32, 3), (77, 77, 77), None)
    add("bilevel.png", _encode(Image.new("1", (32, 32), 1), "PNG"), (32, 32, 3), (255, 255, 255), None)
    add("ycbcr.jpg", _encode(Image.new("YCbCr", (32, 32), (128, 128, 128)), "JPEG"), (32, 32, 3), (128, 128, 128), None)
    add("lab.tiff", _encode(Image.new("LAB", (32, 32), (128, 128, 128)), "TIFF"), (32, 32, 3), (119, 119, 119), "LAB")
    # A sideways phone photo: stored 40 wide x 20 high, EXIF orientation 6 (rotate 90° clockwise to view).
    side = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    add("sideways.jpg", _encode(side, "JPEG", exif=exif.tobytes()), (40, 20, 3), (200, 30, 30), "rotated upright")
    broken = _encode(side, "JPEG")  # an EXIF block of garbage right after the start marker
    app1 = b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + os.urandom(40)
    add("broken_exif.jpg", broken[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + broken[2:],
        (20, 40, 3), (200, 30, 30), "EXIF data is damaged")
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    add("animated.gif", _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100),
        (32, 32, 3), (255, 0, 0), "first of its 3 frames")
    add("animated.png", _encode(frames[0], "PNG", save_all=True, append_images=frames[1:2], duration=100),
        (32, 32, 3), (255, 0, 0), "first of its 2 frames")
    add("animated.webp", _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True),
        (32, 32, 3), (255, 0, 0), "first of its 3 frames")
    return odd
