"""``python -m app.cli``: the ``stagecast`` command without installing the package."""

import sys

from . import main

sys.exit(main())
