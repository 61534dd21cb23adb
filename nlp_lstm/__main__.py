"""`python -m nlp_lstm` is `nlp-lstm`."""

import sys

from .cli import main

if __name__ == "__main__":  # `--jobs` workers import this module again; they must not rerun the CLI
    sys.exit(main())
