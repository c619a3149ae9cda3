"""Subcommands of the ``genfer`` command for the generative systems, one module each (see ``genfer.cli``)."""
