import numpy as np
import pytest


@pytest.fixture(scope="session")
def model():
    from engine.body.model import BodyModel

    return BodyModel.load_mannequin()


@pytest.fixture(scope="session")
def parts():
    from engine.body.mannequin import load_parts

    return load_parts()


@pytest.fixture(scope="session")
def renderer_small():
    from engine.body.render import GuideRenderer

    r = GuideRenderer(96, 128)
    yield r
    r.close()


def random_state(seed: int = 0, scale: float = 0.3):
    from engine.body.state import BodyState

    rng = np.random.default_rng(seed)
    return BodyState(betas=rng.normal(0, 1, 10), global_orient=rng.normal(0, scale, 3),
                     body_pose=rng.normal(0, scale, (21, 3)), left_hand_pose=rng.normal(0, scale, (15, 3)),
                     right_hand_pose=rng.normal(0, scale, (15, 3)), jaw_pose=rng.normal(0, 0.1, 3),
                     transl=rng.normal(0, 0.2, 3))


@pytest.fixture(scope="session")
def make_state():
    """A function (seed, scale) -> a random BodyState."""
    return random_state
