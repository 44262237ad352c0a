"""``python -m rldsl`` runs the command line."""

import sys

from rldsl.cli import main

sys.exit(main())
