"""Sub-commands of ``nlc-eval``.

Each module here defines ``NAME`` (the sub-command), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. :mod:`nlc_eval.cli` discovers them, so a
new command is a new module, with no edit elsewhere.
"""
