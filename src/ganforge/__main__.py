"""``python -m ganforge``: the ``ganforge`` command, the form ``torchrun -m ganforge train ...`` needs."""
import sys

from .cli import main

sys.exit(main())
