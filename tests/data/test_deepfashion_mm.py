import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data.deepfashion_mm import DeepFashionMMDataset, DatasetLayoutError, parse_name

NAMES = [
    "MEN-Denim-id_00000080-01_7_additional.jpg",
    "MEN-Denim-id_00000080-01_1_front.jpg",
    "MEN-Denim-id_00000080-01_2_side.jpg",
    "MEN-Denim-id_00000080-02_1_front.jpg",  # same person, different outfit
    "WOMEN-Blouses_Shirts-id_00000001-02_4_full.jpg",
    "WOMEN-Blouses_Shirts-id_00000001-02_1_front.jpg",
]


def make_tree(root: Path, names=NAMES) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "segm").mkdir()
    (root / "densepose").mkdir()
    for i, n in enumerate(names):
        Image.fromarray(np.full((11, 7, 3), 10 * i, np.uint8)).save(root / "images" / n)
        stem = Path(n).stem
        if i % 2 == 0:  # parsing exists for full-body images only
            Image.fromarray(np.zeros((11, 7), np.uint8)).save(root / "segm" / f"{stem}_segm.png")
        Image.fromarray(np.zeros((11, 7, 3), np.uint8)).save(root / "densepose" / f"{stem}_densepose.png")
    (root / "keypoints").mkdir()
    (root / "keypoints" / "keypoints_loc.txt").write_text(
        "".join(f"{n} " + " ".join(str(v) for v in range(42)) + "\n" for n in names[:2]))
    (root / "keypoints" / "keypoints_vis.txt").write_text(
        "".join(f"{n} " + " ".join(["0"] * 20 + ["2"]) + "\n" for n in names[:2]))
    (root / "labels" / "shape").mkdir(parents=True)
    (root / "labels" / "texture").mkdir()
    (root / "labels" / "shape" / "shape_anno_all.txt").write_text(f"{names[0]} " + " ".join(["1"] * 12) + "\n")
    (root / "labels" / "texture" / "fabric_ann.txt").write_text(f"{names[0]} 0 1 7\n")
    (root / "labels" / "texture" / "pattern_ann.txt").write_text(f"{names[0]} 2 3 7\n")
    (root / "captions.json").write_text(json.dumps({names[0]: "A man wears a denim shirt."}))
    (root / "train.txt").write_text("\n".join(names[:4]) + "\n")
    (root / "test.txt").write_text("\n".join(names[4:]) + "\n")
    return root


def test_parse_name():
    assert parse_name("MEN-Denim-id_00000080-01_7_additional.jpg") == ("MEN-Denim-id_00000080-01", "7", "additional")
    assert parse_name("WOMEN-Blouses_Shirts-id_00000001-02_4_full.jpg")[0] == "WOMEN-Blouses_Shirts-id_00000001-02"
    with pytest.raises(ValueError):
        parse_name("img_0001.jpg")


def test_records(tmp_path):
    root = make_tree(tmp_path)
    ds = DeepFashionMMDataset(root)
    assert len(ds) == 6 and ds.names == sorted(NAMES)
    r = next(x for x in ds if x.name == NAMES[0])
    assert r.group == "MEN-Denim-id_00000080-01" and r.view == "7"
    assert r.parsing.name == "MEN-Denim-id_00000080-01_7_additional_segm.png"
    assert r.densepose.name.endswith("_densepose.png")
    assert r.keypoints.shape == (21, 2) and r.keypoints[1].tolist() == [2.0, 3.0]
    assert r.keypoints_vis.shape == (21,) and r.keypoints_vis[-1] == 2
    assert r.shape.shape == (12,) and r.fabric.tolist() == [0, 1, 7] and r.pattern.tolist() == [2, 3, 7]
    assert r.caption.startswith("A man")
    r2 = next(x for x in ds if x.name == NAMES[1])
    assert r2.parsing is None and r2.shape is None and r2.caption is None and r2.keypoints is not None


def test_splits_and_pairs(tmp_path):
    root = make_tree(tmp_path)
    train, test = DeepFashionMMDataset(root, "train"), DeepFashionMMDataset(root, "test")
    assert len(train) == 4 and len(test) == 2 and not set(train.names) & set(test.names)
    pairs = train.multi_pose_pairs()
    assert len(pairs) == 3  # 3 views of outfit -01 → 3 unordered pairs; outfit -02 alone → none
    assert all(parse_name(a)[0] == parse_name(b)[0] for a, b in pairs)
    assert len(train.multi_pose_pairs(ordered=True)) == 6
    assert test.multi_pose_pairs() == [(NAMES[5], NAMES[4])] or test.multi_pose_pairs() == [(NAMES[4], NAMES[5])]
    assert DeepFashionMMDataset(root).groups()["MEN-Denim-id_00000080-02"] == [NAMES[3]]


def test_layout_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        DeepFashionMMDataset(tmp_path / "nope")
    tmp_path.joinpath("empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="missing folder .*images"):
        DeepFashionMMDataset(tmp_path / "empty")
    root = make_tree(tmp_path / "df")
    (root / "test.txt").unlink()
    with pytest.raises(DatasetLayoutError, match="no test split list"):
        DeepFashionMMDataset(root, "test")
    (root / "train.txt").write_text("MEN-Nope-id_00000001-01_1_front.jpg\n")
    with pytest.raises(DatasetLayoutError, match="MEN-Nope"):
        DeepFashionMMDataset(root, "train")
    (root / "keypoints" / "keypoints_vis.txt").write_text("x.jpg 0 0\n")
    with pytest.raises(DatasetLayoutError, match="keypoints_vis.txt:1"):
        DeepFashionMMDataset(root)
