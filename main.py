"""python main.py: start OMFA Desktop. Also the entry point of the installers' window executable
(installer/omfa.spec); ``--self-test`` runs the headless installation check (engine/selftest.py) before
anything imports Qt."""
import sys


def run(argv: list[str]) -> int:
    if "--self-test" in argv:
        from engine.selftest import main as self_test

        return self_test(argv)
    from omfa_desktop.app import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
