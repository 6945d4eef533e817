"""`python -m hub`: see hub/cli.py."""

import sys

from hub.cli import main

sys.exit(main())
