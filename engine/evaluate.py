"""Former home of the evaluation code, now the package :mod:`engine.evaluation`; kept so older imports work."""
from engine.evaluation import *  # noqa: F401,F403
from engine.evaluation import __all__  # noqa: F401
