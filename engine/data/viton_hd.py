"""Reader for VITON-HD (Choi et al. 2021) in its published folder layout.

```
root/
  train_pairs.txt, test_pairs.txt      "person.jpg cloth.jpg" per line
  train/ and test/
    image/            00000_00.jpg           person photo (1024 x 768)
    cloth/            00000_00.jpg           in-shop garment
    cloth-mask/       00000_00.jpg           garment mask
    image-parse-v3/   00000_00.png           human parsing (label map)
    image-parse-agnostic-v3.2/ 00000_00.png  (optional)
    agnostic-v3.2/    00000_00.jpg           clothing-agnostic person
    openpose_img/     00000_00_rendered.png
    openpose_json/    00000_00_keypoints.json
    image-densepose/  00000_00.jpg
```
Only ``image/`` and ``cloth/`` are required; the other folders are attached to records when present.

Modes: *paired* pairs each person with its own garment (the same file name, used for reconstruction
metrics); *unpaired* uses the pairs file's (person, other garment) lines. When the pairs file is
missing, paired mode falls back to listing ``image/``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from engine.errors import OmfaError

SPLITS: tuple[str, ...] = ("train", "test")
MODES: tuple[str, ...] = ("paired", "unpaired")
REQUIRED_DIRS: tuple[str, ...] = ("image", "cloth")
# extra name -> (folder, how the file name is derived from the person stem)
EXTRA_LAYOUT: dict[str, tuple[str, str]] = {
    "parse": ("image-parse-v3", "{stem}.png"),
    "parse_agnostic": ("image-parse-agnostic-v3.2", "{stem}.png"),
    "agnostic": ("agnostic-v3.2", "{stem}.jpg"),
    "openpose_img": ("openpose_img", "{stem}_rendered.png"),
    "openpose_json": ("openpose_json", "{stem}_keypoints.json"),
    "densepose": ("image-densepose", "{stem}.jpg"),
}


class DatasetLayoutError(OmfaError, FileNotFoundError):
    """The dataset folder does not have the expected layout; the message names what is missing."""


@dataclass
class VitonHDRecord:
    """One (person, garment) pair.

    Attributes
    ----------
    person : Path          person photo
    cloth : Path           garment image (the person's own in paired mode)
    cloth_mask : Path | None
    paired : bool          whether ``cloth`` is the garment the person wears
    extras : dict str -> Path   optional modalities present on disk (keys from :data:`EXTRA_LAYOUT`)
    """

    person: Path
    cloth: Path
    cloth_mask: Path | None = None
    paired: bool = True
    extras: dict[str, Path] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The person's file stem, e.g. ``00000_00``."""
        return self.person.stem


class VitonHDDataset:
    """VITON-HD records for one split.

    Parameters
    ----------
    root : path
        Folder holding ``train/``, ``test/`` and the pairs files.
    split : {"train", "test"}
    mode : {"paired", "unpaired"}
    check_files : bool
        Verify that every listed person/cloth file exists (clear error instead of a failure mid-epoch).

    Raises
    ------
    DatasetLayoutError
        Naming the missing folder or file.
    """

    def __init__(self, root: str | Path, split: str = "test", mode: str = "paired",
                 check_files: bool = True) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.root, self.split, self.mode = Path(root), split, mode
        if not self.root.is_dir():
            raise DatasetLayoutError(f"VITON-HD root {self.root} does not exist", path=self.root)
        self.split_dir = self.root / split
        if not self.split_dir.is_dir():
            raise DatasetLayoutError(f"VITON-HD: missing split folder {self.split_dir}", path=self.split_dir)
        for d in REQUIRED_DIRS:
            if not (self.split_dir / d).is_dir():
                raise DatasetLayoutError(f"VITON-HD: missing folder {self.split_dir / d}")
        self.pairs_file = self.root / f"{split}_pairs.txt"
        self.pairs = self._read_pairs()
        self._extras = {k: self.split_dir / d for k, (d, _) in EXTRA_LAYOUT.items()
                        if (self.split_dir / d).is_dir()}
        if check_files:
            for p, c in self.pairs:
                for sub, name in (("image", p), ("cloth", c)):
                    f = self.split_dir / sub / name
                    if not f.is_file():
                        listing = self.pairs_file.name if self.pairs_file.is_file() else "listing"
                        raise DatasetLayoutError(f"VITON-HD: {listing} names {name} but {f} does not exist")

    def _read_pairs(self) -> list[tuple[str, str]]:
        if self.pairs_file.is_file():
            pairs = []
            for n, line in enumerate(self.pairs_file.read_text().splitlines(), 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 2:
                    raise DatasetLayoutError(f"VITON-HD: {self.pairs_file}:{n}: expected 'person.jpg cloth.jpg', "
                                             f"got {line!r}")
                person, cloth = parts
                pairs.append((person, person if self.mode == "paired" else cloth))
            return pairs
        if self.mode == "unpaired":
            raise DatasetLayoutError(f"VITON-HD: unpaired mode needs the pairs file {self.pairs_file}",
                                     path=self.pairs_file)
        return [(p.name, p.name) for p in sorted((self.split_dir / "image").glob("*.jpg"))]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> VitonHDRecord:
        person, cloth = self.pairs[i]
        stem = Path(person).stem
        extras = {}
        for k, d in self._extras.items():
            f = d / EXTRA_LAYOUT[k][1].format(stem=stem)
            if f.is_file():
                extras[k] = f
        cm_dir = self.split_dir / "cloth-mask"
        cm = None
        if cm_dir.is_dir():  # the release stores masks as .jpg; some re-packs use .png
            for cand in (cm_dir / cloth, (cm_dir / cloth).with_suffix(".png")):
                if cand.is_file():
                    cm = cand
                    break
        return VitonHDRecord(person=self.split_dir / "image" / person, cloth=self.split_dir / "cloth" / cloth,
                             cloth_mask=cm, paired=(person == cloth), extras=extras)

    def __iter__(self) -> Iterator[VitonHDRecord]:
        for i in range(len(self)):
            yield self[i]
