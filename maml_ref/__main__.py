"""``python -m maml_ref``: see ``maml_ref.cli``."""

import sys

from .cli import main

sys.exit(main())
