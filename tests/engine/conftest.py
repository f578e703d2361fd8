import numpy as np
import pytest

from omfa_testing import tiny_model


@pytest.fixture
def model():
    return tiny_model()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
