"""``python -m bench``: run the side-by-side benchmark (see bench/run.py for the options)."""
import sys

from .run import main

sys.exit(main())
