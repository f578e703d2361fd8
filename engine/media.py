"""Exports of several images: animated GIF, MP4 and contact sheets (PNG and HTML), each carrying its settings.

Where the settings go, so any exported file says how it was made:

- GIF: the comment extension (``Image.info["comment"]``), JSON;
- MP4: the container's ``comment`` metadata tag (what ffprobe and most players show), JSON;
- PNG contact sheet: the same iTXt chunk as single results (engine.export.save_png);
- HTML contact sheet: a ``<script type="application/json" id="omfa-settings">`` block.

:func:`read_settings` reads any of them back. All writes are atomic (engine.persist): an interrupted export
leaves no partial file.
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from engine.errors import OmfaError
from engine.export import MetadataError, _jsonable, save_png
from engine.persist import atomic_path, write_text


class MediaError(OmfaError, RuntimeError):
    """An export cannot be made (no frames, mixed sizes, no video encoder); the message says why."""


def _frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    if not len(frames):
        raise MediaError("nothing to export: no frames")
    out = [np.ascontiguousarray(np.asarray(f, np.uint8)) for f in frames]
    shape = out[0].shape
    if len(shape) != 3 or shape[2] != 3:
        raise MediaError(f"frames must be RGB images (H, W, 3), not {shape}")
    bad = [i for i, f in enumerate(out) if f.shape != shape]
    if bad:
        raise MediaError(f"all frames must have the same size; frame {bad[0]} is {out[bad[0]].shape[1]}x"
                         f"{out[bad[0]].shape[0]}, frame 0 is {shape[1]}x{shape[0]}")
    return out


def _json(settings: Optional[dict]) -> str:
    return json.dumps(settings or {}, default=_jsonable)


def upscaled(frames: Sequence[np.ndarray], min_width: int = 192) -> tuple[list[np.ndarray], int]:
    """Frames enlarged by the smallest whole factor that makes them at least ``min_width`` wide (small models'
    96-pixel panels are unwatchable as a GIF); returns (frames, factor)."""
    from PIL import Image

    fr = _frames(frames)
    k = max(1, -(-min_width // fr[0].shape[1]))
    if k == 1:
        return fr, 1
    h, w = fr[0].shape[:2]
    return [np.asarray(Image.fromarray(f).resize((w * k, h * k), Image.Resampling.LANCZOS)) for f in fr], k


def sheet_cell(size: tuple[int, int], min_width: int = 192) -> tuple[int, int]:
    """A contact-sheet cell for panels of ``size`` (w, h): enlarged like :func:`upscaled`."""
    k = max(1, -(-min_width // size[0]))
    return size[0] * k, size[1] * k


def save_gif(frames: Sequence[np.ndarray], path: str | Path, settings: Optional[dict] = None,
             fps: float = 8.0, loop: bool = True) -> Path:
    """An animated GIF of ``frames`` (each (H, W, 3) uint8) at ``fps``, ``settings`` in its comment."""
    from PIL import Image

    imgs = [Image.fromarray(f) for f in _frames(frames)]
    with atomic_path(path) as tmp:
        # one adaptive palette per frame (Pillow's default): garments differ in colour between views
        imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:], duration=round(1000 / fps),
                     loop=0 if loop else 1, comment=_json(settings).encode(), disposal=1)
    return Path(path)


def save_mp4(frames: Sequence[np.ndarray], path: str | Path, settings: Optional[dict] = None,
             fps: float = 8.0, crf: int = 18) -> Path:
    """An H.264 MP4 (yuv420p, plays everywhere) of ``frames``; MPEG-4 Part 2 when the bundled FFmpeg has no
    H.264 encoder. Odd sizes are padded by one pixel (yuv420p needs even sides). ``settings`` go in the
    container's comment tag."""
    try:
        import av
    except ImportError:
        raise MediaError("MP4 export needs PyAV (pip install av); GIF export works without it") from None
    fr = _frames(frames)
    h, w = fr[0].shape[:2]
    ph, pw = h + h % 2, w + w % 2
    codec = next((c for c in ("libx264", "h264", "mpeg4") if c in av.codecs_available), None)
    if codec is None:
        raise MediaError("this FFmpeg build has no H.264 or MPEG-4 encoder; export a GIF instead")
    from fractions import Fraction

    with atomic_path(path) as tmp:
        container = av.open(str(tmp), mode="w", format="mp4")
        try:
            container.metadata["comment"] = _json(settings)
            stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
            stream.width, stream.height, stream.pix_fmt = pw, ph, "yuv420p"
            if codec == "libx264":
                stream.options = {"crf": str(crf), "preset": "medium"}
            for f in fr:
                if (ph, pw) != (h, w):
                    f = np.pad(f, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
                for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        finally:
            container.close()
    return Path(path)


def contact_sheet(images: Sequence[np.ndarray], labels: Optional[Sequence[str]] = None, columns: int = 0,
                  cell: Optional[tuple[int, int]] = None, title: str = "", pad: int = 6,
                  background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """A grid of ``images`` (any sizes: each is fitted into ``cell`` = (w, h), default the first image's
    size), with a label under each and an optional title. Returns (H, W, 3) uint8."""
    from PIL import Image, ImageDraw, ImageOps

    if not len(images):
        raise MediaError("nothing to put on a contact sheet: no images")
    cw, ch = cell or (images[0].shape[1], images[0].shape[0])
    n = len(images)
    cols = columns or min(n, max(1, int(np.ceil(np.sqrt(n * ch / cw)))))
    rows = int(np.ceil(n / cols))
    label_h = 14 if labels else 0
    title_h = 20 if title else 0
    W = pad + cols * (cw + pad)
    H = title_h + pad + rows * (ch + label_h + pad)
    sheet = Image.new("RGB", (W, H), background)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, 4), title, fill=(20, 20, 20))
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        x, y = pad + c * (cw + pad), title_h + pad + r * (ch + label_h + pad)
        im = ImageOps.contain(Image.fromarray(np.asarray(img, np.uint8)), (cw, ch), Image.Resampling.LANCZOS)
        sheet.paste(im, (x + (cw - im.width) // 2, y + (ch - im.height) // 2))
        if labels and i < len(labels) and labels[i]:
            draw.text((x, y + ch + 1), str(labels[i])[: max(4, cw // 6)], fill=(40, 40, 40))
    return np.asarray(sheet)


def save_contact_sheet(images: Sequence[np.ndarray], path: str | Path, settings: Optional[dict] = None,
                       labels: Optional[Sequence[str]] = None, **kw: Any) -> Path:
    """:func:`contact_sheet` saved as a PNG carrying ``settings``."""
    return save_png(contact_sheet(images, labels, **kw), path, settings or {})


def save_html_sheet(path: str | Path, rows: Sequence[dict], title: str, settings: Optional[dict] = None) -> Path:
    """An HTML contact sheet: one card per row dict with ``image`` (a path, shown relative to the HTML file),
    ``label`` and optional ``details`` (a dict shown as a small table). Self-contained apart from the images,
    so the folder can be zipped and opened anywhere."""
    out = Path(path)
    cards = []
    for r in rows:
        src = os.path.relpath(Path(r["image"]), out.parent) if r.get("image") else ""
        details = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                          for k, v in (r.get("details") or {}).items())
        img = f'<img src="{html.escape(src)}" alt="{html.escape(r.get("label", ""))}">' if src else \
            '<div class="missing">not made</div>'
        cards.append(f'<figure>{img}<figcaption>{html.escape(r.get("label", ""))}'
                     f'<table>{details}</table></figcaption></figure>')
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font: 13px system-ui, sans-serif; margin: 16px; background: #fafafa; color: #222; }}
main {{ display: flex; flex-wrap: wrap; gap: 12px; }}
figure {{ margin: 0; background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px; width: 220px; }}
img {{ width: 100%; image-rendering: auto; }}
.missing {{ height: 120px; display: grid; place-items: center; color: #a00; background: #fee; }}
th {{ text-align: left; font-weight: 600; padding-right: 6px; vertical-align: top; }}
table {{ font-size: 11px; margin-top: 4px; }}
</style></head>
<body><h1>{html.escape(title)}</h1><main>
{chr(10).join(cards)}
</main>
<script type="application/json" id="omfa-settings">{html.escape(_json(settings), quote=False)}</script>
</body></html>
"""
    return write_text(out, doc)


def export_views(views: Sequence[np.ndarray], folder: str | Path, settings: Optional[dict] = None,
                 fps: float = 8.0, gif: bool = True, mp4: bool = True, sheet: bool = True,
                 prefix: str = "") -> list[Path]:
    """A turntable's views as ``<prefix>turntable.gif``, ``.mp4`` and ``<prefix>contact_sheet.png`` in
    ``folder`` (small panels enlarged, see :func:`upscaled`), each carrying ``settings`` plus the view count,
    fps and scale. Raises MediaError / engine.persist.StorageError with a message; returns the files."""
    frames, scale = upscaled(views)
    settings = {**(settings or {}), "views": len(frames), "fps": fps, "scale": scale}
    folder = Path(folder)
    written = []
    if gif:
        written.append(save_gif(frames, folder / f"{prefix}turntable.gif", settings, fps=fps))
    if mp4:
        written.append(save_mp4(frames, folder / f"{prefix}turntable.mp4", settings, fps=fps))
    if sheet:
        written.append(save_contact_sheet(views, folder / f"{prefix}contact_sheet.png", settings,
                                          cell=frames[0].shape[1::-1], title=f"Turntable, {len(frames)} views",
                                          labels=[f"view {i} · {360 * i / len(frames):.0f}°"
                                                  for i in range(len(frames))]))
    return written


def read_settings(path: str | Path) -> dict:
    """The settings an export of this module (or engine.export.save_png) carries; ValueError when none."""
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".gif":
            from PIL import Image

            with Image.open(p) as im:
                text = im.info.get("comment", b"")
            text = text.decode() if isinstance(text, bytes) else text
        elif suffix == ".mp4":
            import av

            with av.open(str(p)) as c:
                text = c.metadata.get("comment", "")
        elif suffix in (".html", ".htm"):
            doc = p.read_text(encoding="utf-8")
            start = doc.find('id="omfa-settings">')
            text = html.unescape(doc[start + len('id="omfa-settings">'): doc.find("</script>", start)]) \
                if start >= 0 else ""
        else:
            from engine.export import read_png_metadata

            return read_png_metadata(p)
    except (OSError, UnicodeDecodeError) as e:
        raise MetadataError(f"{p}: cannot be read ({e})", path=p) from None
    if not text:
        raise MetadataError(f"{p}: has no OMFA settings", path=p)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise MetadataError(f"{p}: its OMFA settings are damaged (invalid JSON)", path=p) from None


def frame_count(path: str | Path) -> int:
    """Frames in a GIF or MP4 (by decoding it: what a player would show)."""
    p = Path(path)
    if p.suffix.lower() == ".gif":
        from PIL import Image

        with Image.open(p) as im:
            return getattr(im, "n_frames", 1)
    import av

    with av.open(str(p)) as c:
        return sum(1 for _ in c.decode(video=0))
