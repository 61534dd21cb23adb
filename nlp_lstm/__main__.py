"""`python -m nlp_lstm` is `nlp-lstm`."""

import sys

from .cli import main

sys.exit(main())
