"""``python -m immunorules``: the command line (see ``immunorules --help``)."""

import sys

from ._cli._start import main

if __name__ == "__main__":
    sys.exit(main())
