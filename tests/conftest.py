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


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A cat (cat.png), a cup (cup.jpg) and a real person (astronaut.png): the person gate's test photos."""
    from PIL import Image

    from engine.data.negatives import skimage_photo

    d = tmp_path_factory.mktemp("photos")
    for name, file in (("chelsea", "cat.png"), ("coffee", "cup.jpg"), ("astronaut", "astronaut.png")):
        Image.fromarray(skimage_photo(name)).save(d / file)
    return d
