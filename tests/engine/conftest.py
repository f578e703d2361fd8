import shutil

import numpy as np
import pytest

from omfa_testing import tiny_model


@pytest.fixture
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny model saved once per test module (a real folder with a manifest)."""
    folder = tmp_path_factory.mktemp("saved") / "m"
    tiny_model().save(folder)
    return folder


@pytest.fixture
def model_dir(saved, tmp_path):
    """A fresh copy of a saved tiny model, free to damage."""
    return shutil.copytree(saved, tmp_path / "m")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _private_hash_cache(tmp_path_factory, monkeypatch):
    """Model loads remember verified hashes in the user's data folder; tests use a throwaway cache."""
    monkeypatch.setenv("OMFA_HASH_CACHE", str(tmp_path_factory.mktemp("hashcache") / "hashes.json"))
