"""``python -m contrail.cli``."""

from contrail.cli.main import cli

cli()
