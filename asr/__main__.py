"""`python -m asr ...`, the same as the `asr` command (and what `torchrun -m asr train ...` runs)."""

import sys

from asr.cli import main

if __name__ == "__main__":
    sys.exit(main())
