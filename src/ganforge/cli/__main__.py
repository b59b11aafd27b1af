"""``python -m ganforge.cli``: the same as the ``ganforge`` command."""
import sys

from . import main

sys.exit(main())
