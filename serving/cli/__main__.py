"""``python -m serving.cli``: the same entry point as the ``reactivate`` script."""

from serving.cli.app import main

main()
