"""The subcommands of the ``genfer`` command, one module each.

Every command module exposes ``add_parser(subparsers) -> ArgumentParser`` (adds its subparser and options) and
``run(args) -> int`` (the exit code); :data:`COMMANDS` lists them in the order ``genfer --help`` shows them.
What they share (user errors, exit codes, the ``--json``/``--jsonl`` output contract, threads, common options)
is in :mod:`genfer.commands._common`. Command modules never import :mod:`genfer.cli`; they raise ``ValueError``
subclasses (e.g. :class:`~genfer.commands._common.UserError`) for user mistakes, which ``genfer.cli.main`` turns
into one stderr line and exit code 2.
"""

COMMANDS: tuple[str, ...] = ("recognize", "train", "eval", "eval_gen", "demo", "models", "runs", "neutralize", "transfer",
                             "invert", "edit", "directions", "sample", "mix", "export", "explain", "serve")
"""Modules under ``genfer.commands`` that define a subcommand (``eval_gen`` is ``genfer eval-gen``)."""
