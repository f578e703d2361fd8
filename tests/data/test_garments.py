import json

import numpy as np
import pytest

from engine.data.garments import (FAMILIES, MIN_CONTRAST_DE, PATTERNED, PERIOD_RANGE, GarmentSpec, _delta_e76,
                                  flat_garment_image, render_texture, sample_garment_spec, tshirt_silhouette)


def test_json_roundtrip_all_families():
    rng = np.random.default_rng(0)
    for fam in FAMILIES:
        s = sample_garment_spec(rng, fam)
        d = json.loads(json.dumps(s.to_dict()))
        assert GarmentSpec.from_dict(d) == s


def test_bad_specs_rejected():
    with pytest.raises(ValueError):
        GarmentSpec(family="tartan")
    with pytest.raises(ValueError):
        GarmentSpec(primary=(0, 0, 300))
    with pytest.raises(KeyError):
        GarmentSpec.from_dict({"family": "solid", "colour": [1, 2, 3]})


def test_sampling_balanced_and_contrasty():
    rng = np.random.default_rng(1)
    specs = [sample_garment_spec(rng) for _ in range(700)]
    counts = {f: sum(s.family == f for s in specs) for f in FAMILIES}
    assert all(60 <= c <= 140 for c in counts.values()), counts
    for s in specs:
        if s.family in PATTERNED:
            assert _delta_e76(s.primary, s.secondary) >= MIN_CONTRAST_DE
        if s.family in ("stripes", "checks", "dots"):
            lo, hi = PERIOD_RANGE[s.family]
            assert lo <= s.period <= hi


def test_sampling_deterministic():
    a = [sample_garment_spec(np.random.default_rng(7)) for _ in range(3)]
    b = [sample_garment_spec(np.random.default_rng(7)) for _ in range(3)]
    assert a == b


@pytest.mark.parametrize("hw", [(64, 48), (256, 192)])
def test_render_deterministic_and_two_colours(hw):
    rng = np.random.default_rng(2)
    for fam in FAMILIES:
        s = sample_garment_spec(rng, fam)
        t1, t2 = render_texture(s, *hw), render_texture(s, *hw)
        assert t1.shape == (*hw, 3) and t1.dtype == np.uint8
        np.testing.assert_array_equal(t1, t2)
        if fam == "solid":
            assert (t1 == np.array(s.primary, np.uint8)).all()


def test_antialiased_edges():
    # Diagonal stripes at 48 px: supersampling produces in-between colours on edges.
    s = GarmentSpec("stripes", (0, 0, 0), (255, 255, 255), period=0.15, angle=30)
    t = render_texture(s, 64, 48)[..., 0]
    mid = ((t > 10) & (t < 245)).mean()
    assert 0.05 < mid < 0.6
    # Coverage is right: duty 0.5 → mean ≈ half.
    assert abs(t.mean() / 255 - 0.5) < 0.05


def test_stripe_angle_convention():
    # 0° = horizontal stripes: constant along rows; 90° = vertical: constant along columns.
    h = render_texture(GarmentSpec("stripes", (0, 0, 0), (255, 255, 255), period=0.25, angle=0), 64, 48)
    v = render_texture(GarmentSpec("stripes", (0, 0, 0), (255, 255, 255), period=0.25, angle=90), 64, 48)
    assert np.ptp(h[..., 0], axis=1).max() == 0 and np.ptp(h[..., 0], axis=0).max() > 200
    assert np.ptp(v[..., 0], axis=0).max() == 0 and np.ptp(v[..., 0], axis=1).max() > 200
    # 45° rises to the right: pixel (r, c) equals pixel (r - 1, c + 1) (up-right neighbour), away from edges.
    d = render_texture(GarmentSpec("stripes", (0, 0, 0), (255, 255, 255), period=0.25, angle=45), 96, 96)
    np.testing.assert_allclose(d[1:, :-1, 0].astype(int), d[:-1, 1:, 0].astype(int), atol=2)


def test_letters_and_block_render():
    s = GarmentSpec("letters", (20, 20, 80), (250, 250, 250), block=(0.3, 0.4, 0.7, 0.65), text="AB")
    t = render_texture(s, 128, 96)
    assert ((t[..., 0] > 128).mean()) > 0.01
    b = GarmentSpec("print_block", (20, 20, 80), (250, 250, 250), block=(0.3, 0.4, 0.7, 0.65), text="")
    tb = render_texture(b, 128, 96)
    frac = (tb[..., 0] > 128).mean()
    assert abs(frac - 0.4 * 0.25 * 96 * 96 / (128 * 96)) < 0.01


def test_flat_garment_image():
    m = tshirt_silhouette(64, 48)
    assert 0.25 < m.mean() < 0.6
    s = GarmentSpec("solid", (10, 120, 30))
    img = flat_garment_image(s, m, background=(255, 255, 255))
    assert (img[m] == (10, 120, 30)).all() and (img[~m] == 255).all()
    with pytest.raises(ValueError):
        flat_garment_image(s, np.zeros((4, 4, 3), bool))
