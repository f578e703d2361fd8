"""python main.py: start OMFA Desktop."""
import sys

from omfa_desktop.app import main

if __name__ == "__main__":
    sys.exit(main())
