"""python -m lpgdb: the lpgdb command (lpgdb/cli/)."""
import sys

from .cli import main

sys.exit(main())
