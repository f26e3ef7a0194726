"""``python -m brainmark.cli``: the same as the ``brainmark`` command."""

from brainmark.cli import main

main()
