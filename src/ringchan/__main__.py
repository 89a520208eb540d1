"""The ``python -m ringchan`` command line; see ``python -m ringchan bench --help``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the subcommand in *argv* (default ``sys.argv[1:]``); return its status."""
    parser = argparse.ArgumentParser(
        prog="python -m ringchan",
        description="ringchan: a bounded MPSC channel for asyncio and threads.",
    )
    parser.add_argument("--version", action="version", version=f"ringchan {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from .bench import cli

    cli.add_command(commands)
    if argv is None:
        argv = sys.argv[1:]
    args = parser.parse_args(argv)
    # Kept so that a report can quote the exact command that produced it.
    args.argv = list(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
