"""engine.warmup's model-load gate: start-up work that should not compete with the first model load waits for
it, and waits for nothing when no load was started."""
import threading
import time

import pytest

from engine import warmup


@pytest.fixture
def fresh_gate(monkeypatch):
    monkeypatch.setattr(warmup, "_MODEL_LOAD", {"pending": threading.Event(), "settled": threading.Event()})


def test_no_load_started_means_no_wait(fresh_gate):
    t = time.monotonic()
    assert warmup.wait_model(5.0) is True
    assert time.monotonic() - t < 0.5


def test_a_started_load_is_waited_for_until_it_settles(fresh_gate):
    warmup.model_load_started()
    assert warmup.wait_model(0.05) is False  # still loading: the timeout decides
    threading.Timer(0.1, warmup.model_load_settled).start()
    assert warmup.wait_model(5.0) is True


def test_a_reload_after_the_first_load_does_not_gate_again(fresh_gate):
    warmup.model_load_started()
    warmup.model_load_settled()
    warmup.model_load_started()  # a later reload (Settings -> Model): the start-up gate stays open
    assert warmup.wait_model(0.01) is True
