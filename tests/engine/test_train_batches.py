"""The trainer's batches: which panels are noised, where the pose goes, the two-view canvas."""
import numpy as np
import torch

from engine.train import IMAGE_KEYS, TrainConfig, _Batcher
from omfa_testing import tiny_model


def _batch(n=3, seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"head": (32, 32)}
    return {k: rng.integers(0, 256, (n, *shapes.get(k, (32, 32)), 3), dtype=np.uint8) for k in IMAGE_KEYS}


def test_two_view_canvas_generates_both_persons_from_garment_head_and_both_guides():
    m = tiny_model()
    lay = m.layout
    b = _Batcher(m, TrainConfig(p_no_head=0.0, p_drop=0.0), np.random.default_rng(0))
    batch = _batch()
    x0, pose, mask, drop_clean, drop_pose, tasks = b.two_views(batch)
    z = {k: b.encode(batch[k]) for k in IMAGE_KEYS}
    w = lay.widths["person"] // lay.factor  # 8 latent columns per panel
    assert x0.shape == (3, 4, 8, 4 * w) and pose.shape == x0.shape and tasks == ["two-views"] * 3
    # p_A | p_B | garment | head, with both persons generated and the rest clean
    assert torch.equal(x0[..., :w], z["person"]) and torch.equal(x0[..., w:2 * w], z["person_b"])
    assert torch.equal(x0[..., 2 * w:3 * w], z["garment"]) and torch.equal(x0[..., 3 * w:], z["head"])
    assert mask.shape == (3, 1, 8, 4 * w)
    assert (mask[..., :2 * w] == 1).all() and (mask[..., 2 * w:] == 0).all()
    # each person panel gets its own view's guide; the clean panels carry no pose
    assert torch.equal(pose[..., :w], z["guide"]) and torch.equal(pose[..., w:2 * w], z["guide_b"])
    assert (pose[..., 2 * w:] == 0).all()
    assert not drop_clean.any() and not drop_pose.any()


def test_two_view_canvas_drops_heads_like_the_single_canvas():
    m = tiny_model()
    b = _Batcher(m, TrainConfig(p_no_head=1.0), np.random.default_rng(0))
    x0, *_ = b.two_views(_batch())
    w = m.layout.widths["person"] // m.layout.factor
    assert (x0[..., 3 * w:] == 0).all() and (x0[..., 2 * w:3 * w] != 0).any()


def test_four_view_canvas_alternates_the_two_poses_each_with_its_own_guide():
    m = tiny_model()
    b = _Batcher(m, TrainConfig(p_no_head=0.0, p_drop=0.0), np.random.default_rng(0))
    batch = _batch(n=2)
    x0, pose, mask, *_, tasks = b.multi_views(batch, 4)
    z = {k: b.encode(batch[k]) for k in IMAGE_KEYS}
    w = m.layout.widths["person"] // m.layout.factor
    assert x0.shape == (2, 4, 8, 6 * w) and tasks == ["4-views"] * 2
    for i, (p, g) in enumerate([("person", "guide"), ("person_b", "guide_b")] * 2):
        assert torch.equal(x0[..., i * w:(i + 1) * w], z[p]) and torch.equal(pose[..., i * w:(i + 1) * w], z[g])
    assert torch.equal(x0[..., 4 * w:5 * w], z["garment"]) and (pose[..., 4 * w:] == 0).all()
    assert (mask[..., :4 * w] == 1).all() and (mask[..., 4 * w:] == 0).all()


def test_canvases_cut_from_orbit_views_take_consecutive_views_with_their_guides():
    m = tiny_model()
    b = _Batcher(m, TrainConfig(p_no_head=0.0, p_drop=0.0), np.random.default_rng(0))
    batch = _batch(n=2)
    rng = np.random.default_rng(1)
    batch["views_person"] = rng.integers(0, 256, (2, 4, 32, 32, 3), dtype=np.uint8)
    batch["views_guide"] = rng.integers(0, 256, (2, 4, 32, 32, 3), dtype=np.uint8)
    w = m.layout.widths["person"] // m.layout.factor
    starts = set()
    for _ in range(12):
        x0, pose, mask, *_ = b.multi_views(batch, 3)
        assert x0.shape == (2, 4, 8, 5 * w)
        vp = [b.encode(batch["views_person"][:, j]) for j in range(4)]
        vg = [b.encode(batch["views_guide"][:, j]) for j in range(4)]
        start = next(s for s in range(2) if torch.equal(x0[..., :w], vp[s]))
        starts.add(start)
        for i in range(3):  # consecutive views, each with its own guide
            assert torch.equal(x0[..., i * w:(i + 1) * w], vp[start + i])
            assert torch.equal(pose[..., i * w:(i + 1) * w], vg[start + i])
        assert torch.equal(x0[..., 3 * w:4 * w], b.encode(batch["garment"]))
    assert starts == {0, 1}  # the window slides over the orbit


def test_shards_keep_orbit_views_only_when_every_shard_has_them(tmp_path):
    from engine.train import load_shards

    rng = np.random.default_rng(0)
    base = {k: rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8) for k in IMAGE_KEYS}
    views = {"views_person": np.zeros((2, 3, 8, 8, 3), np.uint8), "views_guide": np.zeros((2, 3, 8, 8, 3), np.uint8)}
    np.savez(tmp_path / "train_00000.npz", **base, **views)
    np.savez(tmp_path / "train_00001.npz", **base, **views)
    got = load_shards(tmp_path)
    assert got["views_person"].shape == (4, 3, 8, 8, 3) and got["person"].shape == (4, 8, 8, 3)
    np.savez(tmp_path / "train_00002.npz", **base)  # one shard without views: none are used
    got = load_shards(tmp_path)
    assert "views_person" not in got and got["person"].shape == (6, 8, 8, 3)
    np.savez(tmp_path / "train_00002.npz", **base, views_person=views["views_person"])  # guides missing
    got = load_shards(tmp_path)
    assert "views_person" not in got and "views_guide" not in got


def test_a_data_set_encoded_once_gives_the_batches_encoding_per_step_gives():
    from engine.train import encode_dataset

    m = tiny_model()
    images = _batch(n=5)
    rng = np.random.default_rng(3)
    images["views_person"] = rng.integers(0, 256, (5, 3, 32, 32, 3), dtype=np.uint8)
    images["views_guide"] = rng.integers(0, 256, (5, 3, 32, 32, 3), dtype=np.uint8)
    latents = encode_dataset(m.codec, images, chunk=4)  # chunks that do not divide the data
    assert latents["person"].shape == (5, 4, 8, 8) and latents["views_person"].shape == (5, 3, 4, 8, 8)
    idx = np.array([4, 0, 2])
    for views in (1, 3):
        out = []
        for data in (images, latents):
            b = _Batcher(m, TrainConfig(), np.random.default_rng(7))  # same task and dropout draws
            batch = {k: v[idx] for k, v in data.items()}
            out.append(b(batch) if views == 1 else b.multi_views(batch, views))
        (x_img, p_img, m_img, *rest_img), (x_lat, p_lat, m_lat, *rest_lat) = out
        assert torch.allclose(x_img, x_lat, atol=1e-5) and torch.allclose(p_img, p_lat, atol=1e-5)
        assert torch.equal(m_img, m_lat) and rest_img[-1] == rest_lat[-1]
