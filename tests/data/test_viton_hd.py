from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data.viton_hd import DatasetLayoutError, VitonHDDataset


def _img(path: Path, ext_mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 6, 3), 128, np.uint8)).convert(ext_mode).save(path)


def make_tree(root: Path, split: str = "test", ids=("00000_00", "00001_00", "00002_00"), extras=True) -> Path:
    d = root / split
    for i in ids:
        _img(d / "image" / f"{i}.jpg")
        _img(d / "cloth" / f"{i}.jpg")
        _img(d / "cloth-mask" / f"{i}.jpg", "L")
        if extras:
            _img(d / "image-parse-v3" / f"{i}.png", "L")
            _img(d / "agnostic-v3.2" / f"{i}.jpg")
            _img(d / "openpose_img" / f"{i}_rendered.png")
            (d / "openpose_json").mkdir(exist_ok=True)
            (d / "openpose_json" / f"{i}_keypoints.json").write_text('{"people": []}')
            _img(d / "image-densepose" / f"{i}.jpg")
    # unpaired: each person with the next person's cloth
    lines = [f"{a}.jpg {b}.jpg" for a, b in zip(ids, ids[1:] + ids[:1])]
    (root / f"{split}_pairs.txt").write_text("\n".join(lines) + "\n")
    return root


def test_paired_and_unpaired(tmp_path):
    root = make_tree(tmp_path)
    paired = VitonHDDataset(root, "test", "paired")
    assert len(paired) == 3
    r = paired[0]
    assert r.person.name == r.cloth.name == "00000_00.jpg" and r.paired
    assert r.cloth_mask == root / "test" / "cloth-mask" / "00000_00.jpg"
    assert set(r.extras) == {"parse", "agnostic", "openpose_img", "openpose_json", "densepose"}
    assert r.extras["openpose_json"].name == "00000_00_keypoints.json"
    assert r.extras["openpose_img"].name == "00000_00_rendered.png"
    assert r.id == "00000_00"
    unp = list(VitonHDDataset(root, "test", "unpaired"))
    assert [(x.person.name, x.cloth.name) for x in unp] == [
        ("00000_00.jpg", "00001_00.jpg"), ("00001_00.jpg", "00002_00.jpg"), ("00002_00.jpg", "00000_00.jpg")]
    assert not unp[0].paired


def test_minimal_layout_without_pairs_file(tmp_path):
    root = make_tree(tmp_path, "train", extras=False)
    (root / "train_pairs.txt").unlink()
    ds = VitonHDDataset(root, "train", "paired")
    assert len(ds) == 3 and ds[1].extras == {}
    with pytest.raises(DatasetLayoutError, match="train_pairs.txt"):
        VitonHDDataset(root, "train", "unpaired")


def test_layout_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        VitonHDDataset(tmp_path / "nope")
    root = make_tree(tmp_path)
    with pytest.raises(DatasetLayoutError, match="missing split folder"):
        VitonHDDataset(root, "train")
    (root / "test" / "cloth" / "00001_00.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match="00001_00.jpg"):
        VitonHDDataset(root, "test", "unpaired")
    for f in (root / "test" / "cloth").iterdir():
        f.unlink()
    (root / "test" / "cloth").rmdir()
    with pytest.raises(DatasetLayoutError, match=r"missing folder .*cloth"):
        VitonHDDataset(root, "test")
    with pytest.raises(ValueError):
        VitonHDDataset(root, "val")


def test_malformed_pairs_line(tmp_path):
    root = make_tree(tmp_path)
    (root / "test_pairs.txt").write_text("00000_00.jpg\n")
    with pytest.raises(DatasetLayoutError, match="test_pairs.txt:1"):
        VitonHDDataset(root, "test", "unpaired")
