"""The ``nlc-eval`` command line.

Sub-commands live in :mod:`nlc_eval.commands`, one module each; this module only finds them,
builds the parser and turns kit errors into a clear message and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings
from collections.abc import Sequence

from nlc_eval import __version__
from nlc_eval.errors import NlcEvalError


def _command_modules():
    import nlc_eval.commands as pkg

    mods = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            mods.append(mod)
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nlc-eval",
        description="Family groups, impact estimates and disclosure-safe reports for a "
        "Scottish local authority's education service.",
    )
    parser.add_argument("--version", action="version", version=f"nlc-eval {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=getattr(mod, "HELP", None),
                           description=getattr(mod, "HELP", None))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _plain_warnings(command: str):
    """Show the kit's own warnings as one plain line each, once, without source lines.

    A statistical caveat met while a command runs (few treated clusters, say) is something
    the user should read, not a stack excerpt that looks like a failure; the reports state
    the same caveat where the estimate is shown.
    """
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if not category.__module__.startswith("nlc_eval"):
            return default(message, category, filename, lineno, file, line)
        if text not in seen:
            seen.add(text)
            print(f"nlc-eval {command}: note: {text}", file=file or sys.stderr)

    default = warnings.showwarning
    return show


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    previous = warnings.showwarning
    warnings.showwarning = _plain_warnings(args.command)
    try:
        return int(args._run(args) or 0)
    except NlcEvalError as exc:
        print(f"nlc-eval {args.command}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
