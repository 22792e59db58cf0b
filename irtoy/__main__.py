"""`python -m irtoy ...` runs the `irtoy` command (irtoy/cli.py)."""
from irtoy.cli import main

raise SystemExit(main())
