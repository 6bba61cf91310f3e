"""``python -m ragserve`` and the ``ragserve`` command.

The command line is imported inside ``main`` so that Ctrl-C while it loads ends the command
quietly with exit status 130, as it does once a command runs (Typer's handling), instead of
with a traceback.
"""

import sys


def main() -> None:
    try:
        from ragserve.cli import main as run

        run()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
