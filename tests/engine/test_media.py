"""GIF / MP4 / contact-sheet exports decode with the right frames and carry their settings."""
import numpy as np
import pytest

from engine.media import (MediaError, contact_sheet, frame_count, read_settings, save_contact_sheet, save_gif,
                          save_html_sheet, save_mp4)


def frames(n=5, w=33, h=40):
    # each frame a different solid colour plus a moving bar, so frames are distinguishable after compression
    out = []
    for i in range(n):
        f = np.full((h, w, 3), (40 * i % 256, 255 - 30 * i % 256, 100), np.uint8)
        f[:, (i * 5) % w: (i * 5) % w + 4] = 0
        out.append(f)
    return out


def test_gif_has_every_frame_in_order_and_its_settings(tmp_path):
    fr = frames(7)
    p = save_gif(fr, tmp_path / "t.gif", {"task": "multi-view", "views": 7}, fps=10)
    assert frame_count(p) == 7 and read_settings(p) == {"task": "multi-view", "views": 7}
    from PIL import Image, ImageSequence

    with Image.open(p) as im:
        got = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
        assert im.info["duration"] == 100 and im.info["loop"] == 0
    for a, b in zip(got, fr):
        assert np.abs(a.astype(int) - b).mean() < 6


def test_mp4_decodes_with_the_right_frame_count_size_and_settings(tmp_path):
    import av

    fr = frames(9, w=33, h=41)  # odd sizes: padded to even for yuv420p
    p = save_mp4(fr, tmp_path / "t.mp4", {"views": 9}, fps=12)
    assert frame_count(p) == 9 and read_settings(p) == {"views": 9}
    with av.open(str(p)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert decoded[0].shape == (42, 34, 3)
    for a, b in zip(decoded, fr):
        assert np.abs(a[:41, :33].astype(int) - b).mean() < 12


def test_contact_sheets_png_and_html(tmp_path):
    fr = frames(5)
    sheet = contact_sheet(fr, labels=[f"v{i}" for i in range(5)], columns=3, title="t")
    assert sheet.shape[1] == 6 + 3 * (33 + 6) and sheet.dtype == np.uint8
    p = save_contact_sheet(fr, tmp_path / "s.png", {"k": 1}, labels=["a"] * 5)
    assert read_settings(p) == {"k": 1}
    (tmp_path / "img").mkdir()
    save_gif(fr[:1], tmp_path / "img" / "a.gif")
    h = save_html_sheet(tmp_path / "index.html", [{"image": tmp_path / "img" / "a.gif", "label": "<b>x</b>",
                                                    "details": {"seed": 3}}, {"label": "failed"}],
                        "Batch", {"items": 2, "note": "</script> & <"})
    text = h.read_text()
    assert 'src="img/a.gif"' in text and "&lt;b&gt;x&lt;/b&gt;" in text and "not made" in text
    assert read_settings(h) == {"items": 2, "note": "</script> & <"}


def test_bad_exports_are_refused_with_a_message_and_leave_no_file(tmp_path):
    with pytest.raises(MediaError, match="no frames"):
        save_gif([], tmp_path / "a.gif")
    with pytest.raises(MediaError, match="same size; frame 1 is 10x10"):
        save_mp4([np.zeros((8, 8, 3), np.uint8), np.zeros((10, 10, 3), np.uint8)], tmp_path / "a.mp4")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "plain.gif").write_bytes(b"GIF89a")
    with pytest.raises(ValueError):
        read_settings(tmp_path / "plain.gif")
