"""Fixtures shared by every test package."""
import pytest

from bad_images import make_bad_images, make_odd_images  # tests/ is on sys.path (rootdir conftest)


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    """The corpus of bad image files: [(path, words its error must contain)]."""
    return make_bad_images(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def odd(tmp_path_factory):
    """Odd but valid image files with their expected shape, colour and note."""
    return make_odd_images(tmp_path_factory.mktemp("odd"))
