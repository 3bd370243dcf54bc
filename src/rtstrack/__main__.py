"""``python -m rtstrack ...`` runs the ``rtstrack`` command line (same as the installed script)."""

import sys

from rtstrack.cli import main

if __name__ == "__main__":
    sys.exit(main())
