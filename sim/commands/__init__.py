"""Command modules of ``hmsim`` that live outside sim/cli.py (see ``COMMAND_MODULES`` there)."""
