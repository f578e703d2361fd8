"""The synthetic world: determinism, disjoint splits, shapes, garment/person consistency, framing."""

import json

import numpy as np
import pytest

from engine.data.synthetic import SPLITS, SampleSpec, SyntheticSample, SyntheticWorld, render_sample_grid

pytestmark = pytest.mark.gl

W, H, HW = 96, 128, 64


@pytest.fixture(scope="module")
def world():
    w = SyntheticWorld((W, H), head_width=HW, seed=0)
    yield w
    w.close()


@pytest.fixture(scope="module")
def samples(world):
    """The first 8 train samples, rendered once for the module."""
    return [world.sample(i, "train") for i in range(8)]


def _equal(a: SyntheticSample, b: SyntheticSample) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.arrays().values(), b.arrays().values())) \
        and json.dumps(a.meta, sort_keys=True) == json.dumps(b.meta, sort_keys=True)


def test_shapes_dtypes_and_meta(samples):
    s = samples[0]
    for k in SyntheticSample.IMAGE_FIELDS:
        img = getattr(s, k)
        assert img.dtype == np.uint8 and img.shape == ((H, HW, 3) if k == "head" else (H, W, 3)), k
    for k in SyntheticSample.MASK_FIELDS:
        m = getattr(s, k)
        assert m.dtype == bool and m.shape == (H, W), k
    meta = json.loads(json.dumps(s.meta))  # JSON-serialisable as is
    assert meta["split"] == "train" and meta["index"] == 0 and meta["seed"] == 0
    assert s.garment_spec.to_dict() == meta["garment"] and s.head_spec.to_dict() == meta["head"]
    assert {"preset", "mirrored", "view", "camera", "state"} <= set(meta["pose_a"])
    # White background around the figure. Masks are pixel-centre coverage while colours are anti-aliased,
    # so edge pixels (and sub-pixel fingers) may be tinted just outside the mask.
    from scipy.ndimage import binary_dilation

    assert (s.person[~binary_dilation(s.body_mask, iterations=1)] != 255).any(-1).sum() < 20
    assert (s.person[s.body_mask] != 255).any(-1).mean() > 0.95
    stacked = SyntheticWorld.to_arrays(samples[:2])
    assert stacked["person"].shape == (2, H, W, 3) and stacked["person_mask"].shape == (2, H, W)


def test_deterministic(world, samples):
    again = world.sample(0, "train")
    assert _equal(again, samples[0])
    # A fresh world with the same seed reproduces it too (no hidden state, no global RNG).
    state = np.random.get_state()
    other = SyntheticWorld((W, H), head_width=HW, seed=0).sample(0, "train")
    assert _equal(other, samples[0])
    assert np.array_equal(np.random.get_state()[1], state[1])
    assert not np.array_equal(samples[0].person, samples[1].person)
    assert samples[0].meta["garment"] != samples[1].meta["garment"]
    assert world.spec(0, "train").to_meta() != SyntheticWorld(seed=1).spec(0, "train").to_meta()


def test_splits_disjoint(world):
    train = [world.spec(i, "train").to_meta() for i in range(50)]
    test = [world.spec(i, "test").to_meta() for i in range(50)]
    def strip(m):
        return json.dumps({k: v for k, v in m.items() if k not in ("split", "index")}, sort_keys=True)

    train_keys = {strip(m) for m in train}
    assert not any(strip(m) in train_keys for m in test)
    assert not {json.dumps(m["garment"]) for m in train} & {json.dumps(m["garment"]) for m in test}
    assert all(m["split"] == "test" for m in test)
    with pytest.raises(ValueError, match="unknown split"):
        world.spec(0, "validation")
    with pytest.raises(ValueError):
        world.spec(-1, "train")
    assert set(SPLITS) >= {"train", "test"}


def test_garment_colour_matches_between_flat_and_worn(samples):
    """The worn garment's mean colour equals the flat garment's up to a shading gain."""
    worn = np.array([s.person[s.person_mask].astype(float).mean(0) for s in samples])
    flat = np.array([s.garment[s.garment_mask].astype(float).mean(0) for s in samples])

    def dist(p, g):
        gain = np.clip(p @ g / max(p @ p, 1e-6), 0.8, 1.6)  # lighting darkens or brightens a little
        return np.abs(gain * p - g).max()

    d = np.array([[dist(p, g) for g in flat] for p in worn])
    assert (np.diag(d) < 30).all(), np.diag(d)
    assert (d.argmin(1) == np.arange(len(samples))).mean() >= 0.75


def test_masks(samples):
    for s in samples:
        assert s.person_mask.sum() > 150 and s.garment_mask.mean() > 0.15
        assert not (s.person_mask & ~s.body_mask).any()  # the garment is part of the figure
        # The flat garment is drawn exactly inside its mask.
        assert (s.garment[~s.garment_mask] == 255).all()
        assert (s.garment[s.garment_mask] != 255).any(axis=-1).mean() > 0.5


def test_whole_body_in_frame(world, samples):
    for s in samples:
        for img in (s.person, s.person_b):
            fg = (img < 250).any(-1)
            assert fg.mean() > 0.05
            assert not np.concatenate([fg[0], fg[-1], fg[:, 0], fg[:, -1]]).any(), s.meta["index"]


def test_pose_b_differs(samples):
    for s in samples:
        a, b = s.meta["pose_a"], s.meta["pose_b"]
        assert a["preset"] != b["preset"] and a["state"] != b["state"]
        assert np.abs(s.guide.astype(int) - s.guide_b.astype(int)).mean() > 3
        assert a["state"]["betas"] == b["state"]["betas"] == s.meta["betas"]  # same identity


def test_head_crop_filled(samples):
    for s in samples:
        fg = (s.head < 250).any(-1)
        assert fg.mean() > 0.3, s.meta["head"]
        # The head fills the crop's width: the figure reaches near both side edges in the upper half.
        cols = np.nonzero(fg[: H // 2].any(0))[0]
        assert cols.min() < HW * 0.15 and cols.max() > HW * 0.85


def test_views_are_mostly_front(world):
    yaws = np.array([world.spec(i, "train").view_a["yaw_deg"] for i in range(200)])
    front = np.abs(((yaws + 180) % 360) - 180) < 45
    back = np.abs(((yaws + 180) % 360) - 180) > 135
    assert 0.55 < front.mean() < 0.85 and 0.03 < back.mean() < 0.2


def test_render_from_edited_spec(world):
    spec = world.spec(3, "test")
    assert isinstance(spec, SampleSpec)
    spec.garment.family, spec.garment.primary = "solid", (200, 30, 40)
    s = world.render(spec)
    red = s.person[s.person_mask].astype(int)
    assert (red[:, 0] > red[:, 1] + 40).mean() > 0.9


def test_sample_grid_png(world, tmp_path):
    from PIL import Image

    path = tmp_path / "grid.png"
    sheet = render_sample_grid(world, 2, "test", path)
    im = np.asarray(Image.open(path))
    assert im.shape == sheet.shape and im.shape[0] > 2 * H and im.shape[1] > 5 * W + HW


def test_orbit_views_are_one_turntable_of_pose_a_and_change_nothing_else(world, samples):
    s = world.sample(0, "train", views=3)
    # the sample's own images are untouched (only meta gains "orbit")
    assert all(np.array_equal(getattr(s, k), getattr(samples[0], k)) for k in SyntheticSample.IMAGE_FIELDS)
    assert s.views_person.shape == (3, H, W, 3) and s.views_guide.shape == (3, H, W, 3)
    n = s.meta["orbit"]["turntable_views"]
    assert s.meta["orbit"] == {"turntable_views": n, "rendered": 3, "step_deg": 360.0 / n}
    # the guides are exactly the app's orbit guides of the same body: each view's figure differs from the
    # next (the camera moved), and the person image is dressed where its guide shows a body
    for j in range(3):
        body = (s.views_guide[j] != 255).any(-1)
        dressed = (s.views_person[j] != 255).any(-1)
        assert body.mean() > 0.05 and (body & dressed).sum() / body.sum() > 0.85
    assert not np.array_equal(s.views_guide[0], s.views_guide[1])
    # one distance frames the whole turntable: the figure's height is about the same in every view
    heights = [np.ptp(np.nonzero((g != 255).any(-1))[0]) for g in s.views_guide]
    assert max(heights) - min(heights) <= 0.1 * max(heights)
    # deterministic, and a sample without views has none
    again = world.sample(0, "train", views=3)
    assert np.array_equal(again.views_person, s.views_person) and samples[0].views_person is None
    stacked = SyntheticWorld.to_arrays([s, again])
    assert stacked["views_guide"].shape == (2, 3, H, W, 3)
    assert "views_person" not in SyntheticWorld.to_arrays(samples[:2])
    with pytest.raises(ValueError):
        world.sample(0, "train", views=-1)


def test_orbit_turntable_sizes_vary_over_samples(world):
    counts = {world.orbit_count(world.spec(i, "train")) for i in range(40)}
    assert len(counts) >= 4 and counts <= {4, 6, 8, 12, 16, 24}
