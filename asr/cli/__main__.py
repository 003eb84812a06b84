"""`python -m asr.cli ...`, the same as the `asr` command."""

import sys

from asr.cli import main

if __name__ == "__main__":
    sys.exit(main())
