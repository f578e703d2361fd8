import json

import numpy as np
import pytest

from engine.data.heads import HAIR_STYLES, HeadSpec, head_vertex_colors, sample_head_spec


def test_sample_and_json():
    rng = np.random.default_rng(0)
    specs = [sample_head_spec(rng) for _ in range(200)]
    assert {s.style for s in specs} == set(HAIR_STYLES)
    assert len({s.skin for s in specs}) > 20
    for s in specs[:10]:
        assert HeadSpec.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    with pytest.raises(ValueError):
        HeadSpec(style="mohawk")


def test_vertex_colors():
    part = np.array([0, 0, 1, 1, 2])
    hair = np.array([False, True, False, False, False])
    s = HeadSpec(skin=(200, 150, 120), hair=(10, 10, 10), style="short")
    c = head_vertex_colors(s, part, hair)
    assert c.shape == (5, 3) and c.dtype == np.uint8
    assert (c[1] == 10).all() and (c[0] == (200, 150, 120)).all()
    bald = head_vertex_colors(HeadSpec(skin=(200, 150, 120), style="bald"), part, hair)
    assert (bald == (200, 150, 120)).all()
    base = np.zeros((5, 3), np.uint8)
    c2 = head_vertex_colors(s, part, hair, skin_parts=np.array([0]), base=base)
    assert (c2[2:] == 0).all() and (c2[0] == (200, 150, 120)).all() and (c2[1] == 10).all()
    long = head_vertex_colors(HeadSpec(style="long", hair=(90, 60, 30)), part, hair,
                              style_masks={"long": np.array([False, True, True, False, False])})
    assert (long[2] == (90, 60, 30)).all()
