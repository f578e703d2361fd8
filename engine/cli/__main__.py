"""``python -m engine.cli``: the ``omfa`` command (also what ``accelerate launch -m engine.cli`` runs)."""
import sys

from engine.cli import main

sys.exit(main())
