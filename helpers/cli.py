"""What the package's commands share: one-line usage errors (exit status 2) and argument types.

Imports nothing heavy (argparse only), so a command can check everything the user typed
before TensorFlow is imported. Used by helpers.stylize and helpers.replay_post.
"""
from __future__ import annotations

import argparse
import sys


class UsageError(Exception):
    """Bad input: reported as one line `error: ...` with exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line (no usage block) so scripts can parse them."""

    def error(self, message):
        raise UsageError(f"{message} (see --help)")


def int_at_least(low: int):
    """An argparse type: a whole number >= low, with a one-line message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is too small; it must be at least {low}")
        return value

    return parse


def fail(message) -> int:
    """Print `error: <message on one line>` on stderr; return the exit status 2."""
    print("error: " + (" ".join(str(message).split()) or "unknown error"), file=sys.stderr)
    return 2
