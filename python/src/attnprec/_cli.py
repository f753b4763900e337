"""The ``attnprec`` console script of the Python package: runs the binary (marker for
find_binary, which never takes this shim for the binary: attnprec._cli)."""

import os
import sys

from ._binary import AttnprecError, find_binary


def main() -> None:
    try:
        b = find_binary()
    except AttnprecError as e:
        print(f"attnprec: {e}", file=sys.stderr)
        sys.exit(2)
    os.execv(b.path, [b.path, *sys.argv[1:]])
