"""``python -m rtstrack.eval {eval,analyze,pack} ...``"""

import sys

from rtstrack.eval.commands import main

sys.exit(main())
