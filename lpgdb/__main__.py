"""python -m lpgdb: the lpgdb command."""
import sys

from .cli import main

sys.exit(main())
