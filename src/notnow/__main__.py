"""``python -m notnow``: the same as the ``notnow`` command."""

import sys

from notnow.cli import main

sys.exit(main())
