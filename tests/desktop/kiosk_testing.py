"""Helpers for the kiosk tests (imported by name: tests/desktop is on sys.path)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from PySide6.QtCore import QTimer

from engine.paths import SAMPLES

PIN = "90817263"


class Clock:
    """A monotonic clock the test moves by hand (idle timeout, PIN lockout, stall watchdog)."""

    def __init__(self, t: float = 10_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class StubEstimator:
    """Answers like GuideService.estimate, at once, from the sample's own guide and head (no GL, no BlazePose):
    keeps 100-visit loops fast. ``fail = True`` answers like a photo with nobody in it."""

    def __init__(self) -> None:
        from engine.images import load_image

        self.guide = load_image(SAMPLES / "demo_000_guide.png")
        self.head = load_image(SAMPLES / "demo_000_head.png")
        self.calls = 0
        self.fail = False

    def estimate(self, spec, done, fail) -> int:
        from engine.body.state import BodyState
        from engine.images import fit

        self.calls += 1
        if self.fail:
            QTimer.singleShot(0, lambda: fail("no person found in the photo", ""))
            return self.calls
        result = {"guide": fit(self.guide, spec["width"], spec["height"]),
                  "head": fit(self.head, *spec["head_size"]) if spec.get("head_size") else None,
                  "state": BodyState(), "box": (0, 0, 1, 1), "backend": "stub", "notes": []}
        QTimer.singleShot(0, lambda: done(result))
        return self.calls


def fill_wardrobe(folder: Path, n: int = 3):
    from engine.images import load_image
    from engine.wardrobe import Wardrobe

    w = Wardrobe(folder)
    names = ["Striped tee", "Red top", "Checked shirt", "Dotted tee", "Letter tee"]
    for i, g in enumerate(sorted(SAMPLES.glob("demo_00*_garment.png"))[:n]):
        w.add(load_image(g), name=names[i % len(names)], tags=["kiosk"], source=f"file {g.name}")
    return w


def drop_photo(folder: Path, name: str = "IMG_0001.png", src: Path | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shutil.copyfile(src or SAMPLES / "demo_000_person.png", target)
    return target


def files_under(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(Path(d, f).relative_to(root)) for d, _, fs in os.walk(root) for f in fs)


def rss_mb() -> float:
    """Resident memory of this process, MB (psutil when installed, else /proc/self/statm)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_visit(qtbot, k, drop: Path, pose: str = "own", timeout: int = 120_000, done: bool = True,
              photo: Path | None = None) -> None:
    """One customer: a photo in the drop folder → garment → pose → result (→ Done)."""
    drop_photo(drop, src=photo)
    k._poll_drop()
    assert k.current() == "photo" and k.visit is not None and k.visit.photo is not None, k.photo_page.message.text()
    k.photo_page.use_button.click()
    qtbot.waitUntil(lambda: k.current() != "photo", timeout=timeout)
    assert k.current() == "garment", k.start_page.message.text()
    next(iter(k.garment_page.cards.values())).click()
    assert k.current() == "pose"
    if pose == "turntable":
        k.pose_page.turntable_button.click()
    else:
        k.pose_page.cards[pose].click()
    qtbot.waitUntil(lambda: k.current() != "working", timeout=timeout)
    assert k.current() == "result", k.start_page.message.text()
    if done:
        k.result_page.done_button.click()
        assert k.current() == "start" and k.visit is None
