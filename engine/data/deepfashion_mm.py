"""Reader for DeepFashion-MultiModal (Jiang et al., Text2Human 2022) in its published folder layout.

```
root/
  images/        MEN-Denim-id_00000080-01_7_additional.jpg        (44,096 photos, 750 x 1101)
  segm/          MEN-Denim-id_00000080-01_7_additional_segm.png   (parsing, 24 labels; "parsing/" accepted)
  densepose/     MEN-Denim-id_00000080-01_7_additional_densepose.png
  keypoints/     keypoints_loc.txt  "<img> x1 y1 ... x21 y21" (-1 = absent)
                 keypoints_vis.txt  "<img> v1 ... v21" (0 visible, 1 hidden, 2 absent)
  labels/shape/shape_anno_all.txt    "<img> s0 ... s11"
  labels/texture/fabric_ann.txt      "<img> upper lower outer"
  labels/texture/pattern_ann.txt     "<img> upper lower outer"  (the README's "color" annotations)
  captions.json                      {"<img>": "text", ...}
  train.txt / test.txt (or train_images.txt / test_images.txt, or split/…)  one image name per line
```
Only ``images/`` is required; other modalities are attached when present.

File names encode the identity and the view: ``<GENDER>-<Category>-id_<8 digits>-<outfit>_<view>_<tag>``;
all views sharing the part up to the outfit number show the same person in the same garment, which is
what :meth:`DeepFashionMMDataset.multi_pose_pairs` pairs up.
"""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from engine.data.viton_hd import DatasetLayoutError

IMAGE_EXTS: tuple[str, ...] = (".jpg", ".jpeg", ".png")
PARSING_LABELS: tuple[str, ...] = (
    "background", "top", "outer", "skirt", "dress", "pants", "leggings", "headwear", "eyeglass",
    "neckwear", "belt", "footwear", "bag", "hair", "face", "skin", "ring", "wrist wearing", "socks",
    "gloves", "necklace", "rompers", "earrings", "tie")
N_KEYPOINTS = 21
_NAME_RE = re.compile(r"^(?P<group>.+?-id_\d+-\d+)_(?P<view>[^_]+)_(?P<tag>[^.]+)$")
_SPLIT_NAMES = {s: [f"{s}.txt", f"{s}_images.txt", f"{s}_list.txt", f"split/{s}.txt", f"{s}_set.txt"]
                for s in ("train", "test")}


def parse_name(name: str) -> tuple[str, str, str]:
    """Split an image name into (identity-garment group, view, tag).

    ``MEN-Denim-id_00000080-01_7_additional.jpg`` → ``("MEN-Denim-id_00000080-01", "7", "additional")``.

    Raises
    ------
    ValueError if the name does not follow the DeepFashion convention.
    """
    m = _NAME_RE.match(Path(name).stem)
    if not m:
        raise ValueError(f"not a DeepFashion image name: {name!r} (expected <...>-id_<n>-<outfit>_<view>_<tag>)")
    return m["group"], m["view"], m["tag"]


@dataclass
class DeepFashionMMRecord:
    """One image with whatever annotations exist for it.

    Attributes
    ----------
    name : str                        image file name
    image : Path
    group : str                       identity + outfit id (same person, same garment)
    view : str                        view id (e.g. "1", "7")
    parsing, densepose : Path | None
    keypoints : np.ndarray (21, 2) float or None     (x, y) in pixels, -1 where absent
    keypoints_vis : np.ndarray (21,) int or None     0 visible, 1 hidden, 2 absent
    shape : np.ndarray (12,) int or None
    fabric, pattern : np.ndarray (3,) int or None    (upper, lower, outer)
    caption : str | None
    """

    name: str
    image: Path
    group: str
    view: str
    parsing: Path | None = None
    densepose: Path | None = None
    keypoints: np.ndarray | None = None
    keypoints_vis: np.ndarray | None = None
    shape: np.ndarray | None = None
    fabric: np.ndarray | None = None
    pattern: np.ndarray | None = None
    caption: str | None = None


def _read_table(path: Path, ncols: int, dtype: type) -> dict[str, np.ndarray]:
    """``<img name> v1 ... vN`` lines → {name: array}; a malformed line is an error naming the line."""
    out: dict[str, np.ndarray] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != ncols + 1:
            raise DatasetLayoutError(f"DeepFashion-MultiModal: {path}:{n}: expected an image name and "
                                     f"{ncols} values, got {len(parts) - 1}")
        out[parts[0]] = np.array(parts[1:], dtype=dtype)
    return out


class DeepFashionMMDataset:
    """DeepFashion-MultiModal records.

    Parameters
    ----------
    root : path
    split : {"all", "train", "test"}
        "train"/"test" need a split list (see module docstring); "all" lists ``images/``.

    Raises
    ------
    DatasetLayoutError naming the missing folder or file.
    """

    def __init__(self, root: str | Path, split: str = "all") -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetLayoutError(f"DeepFashion-MultiModal root {self.root} does not exist", path=self.root)
        self.image_dir = self._first_dir("images", "image")
        if self.image_dir is None:
            raise DatasetLayoutError(f"DeepFashion-MultiModal: missing folder {self.root / 'images'}",
                                     path=self.root / 'images')
        self.parsing_dir = self._first_dir("segm", "parsing")
        self.densepose_dir = self._first_dir("densepose", "DensePose")
        if split == "all":
            names = sorted(p.name for p in self.image_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        elif split in _SPLIT_NAMES:
            f = next((self.root / c for c in _SPLIT_NAMES[split] if (self.root / c).is_file()), None)
            if f is None:
                raise DatasetLayoutError(f"DeepFashion-MultiModal: no {split} split list in {self.root} "
                                         f"(looked for {', '.join(_SPLIT_NAMES[split])})")
            names = [ln.split()[0] for ln in f.read_text().splitlines() if ln.strip()]
            missing = [n for n in names if not (self.image_dir / n).is_file()]
            if missing:
                raise DatasetLayoutError(f"DeepFashion-MultiModal: {f.name} lists {len(missing)} image(s) not in "
                                         f"{self.image_dir}, e.g. {missing[0]}")
        else:
            raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
        self.split, self.names = split, names
        kp = self.root / "keypoints"
        self._kp_loc = _read_table(kp / "keypoints_loc.txt", 2 * N_KEYPOINTS, float) \
            if (kp / "keypoints_loc.txt").is_file() else {}
        self._kp_vis = _read_table(kp / "keypoints_vis.txt", N_KEYPOINTS, int) \
            if (kp / "keypoints_vis.txt").is_file() else {}
        lab = self.root / "labels"
        self._shape = self._opt_table(lab / "shape" / "shape_anno_all.txt", 12)
        self._fabric = self._opt_table(lab / "texture" / "fabric_ann.txt", 3)
        self._pattern = self._opt_table(lab / "texture" / "pattern_ann.txt", 3)
        cap = self.root / "captions.json"
        self._captions: dict[str, str] = json.loads(cap.read_text()) if cap.is_file() else {}

    def _first_dir(self, *names: str) -> Path | None:
        return next((self.root / n for n in names if (self.root / n).is_dir()), None)

    @staticmethod
    def _opt_table(path: Path, ncols: int) -> dict[str, np.ndarray]:
        return _read_table(path, ncols, int) if path.is_file() else {}

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: int) -> DeepFashionMMRecord:
        name = self.names[i]
        group, view, _ = parse_name(name)
        stem = Path(name).stem

        def opt(d: Path | None, suffix: str) -> Path | None:
            if d is None:
                return None
            f = d / f"{stem}{suffix}"
            return f if f.is_file() else None

        kp = self._kp_loc.get(name)
        return DeepFashionMMRecord(
            name=name, image=self.image_dir / name, group=group, view=view,
            parsing=opt(self.parsing_dir, "_segm.png"), densepose=opt(self.densepose_dir, "_densepose.png"),
            keypoints=None if kp is None else kp.reshape(N_KEYPOINTS, 2), keypoints_vis=self._kp_vis.get(name),
            shape=self._shape.get(name), fabric=self._fabric.get(name), pattern=self._pattern.get(name),
            caption=self._captions.get(name))

    def __iter__(self) -> Iterator[DeepFashionMMRecord]:
        for i in range(len(self)):
            yield self[i]

    def groups(self) -> dict[str, list[str]]:
        """Image names by identity+outfit group, in sorted order (names that do not parse are skipped)."""
        out: dict[str, list[str]] = {}
        for n in self.names:
            try:
                g = parse_name(n)[0]
            except ValueError:
                continue
            out.setdefault(g, []).append(n)
        return {g: sorted(v) for g, v in sorted(out.items())}

    def multi_pose_pairs(self, ordered: bool = False) -> list[tuple[str, str]]:
        """Pairs of views of the same person in the same garment.

        Parameters
        ----------
        ordered : bool
            Both (a, b) and (b, a) when True (source → target pose transfer); each pair once otherwise.

        Returns
        -------
        list of (name_a, name_b), deterministic order.
        """
        pairs: list[tuple[str, str]] = []
        for names in self.groups().values():
            it = itertools.permutations(names, 2) if ordered else itertools.combinations(names, 2)
            pairs.extend(it)
        return pairs
