"""`python -m netspec` runs the command line."""

import sys

from netspec.cli import main

sys.exit(main())
