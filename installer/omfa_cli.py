"""Entry point of the installers' console executable ``omfa`` (installer/omfa.spec): the engine's command
line (engine/cli/), plus ``omfa --self-test [--verbose]``, the headless installation check
(engine/selftest.py). The window is the other executable, ``omfa-desktop`` (main.py)."""
import sys


def run(argv: list[str]) -> int:
    if "--self-test" in argv:
        from engine.selftest import main as self_test

        return self_test(argv)
    from engine.cli import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
