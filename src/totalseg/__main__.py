import sys

from totalseg.cli import main

sys.exit(main())
