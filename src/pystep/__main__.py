"""``python -m pystep``."""

from pystep.cli.main import main

raise SystemExit(main())
