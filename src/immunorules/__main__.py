"""``python -m immunorules``: the command line (see ``immunorules --help``)."""

import sys

from ._cli.main import main

if __name__ == "__main__":
    sys.exit(main())
