"""``python -m feedhandler``: the same command line as the ``feedhandler`` script."""

from feedhandler.cli import main

raise SystemExit(main())
