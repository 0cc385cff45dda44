import sys

from spiraltorch.fuzz.cli import main

sys.exit(main())
