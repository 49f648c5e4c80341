import sys

from keyvid.cli import main

sys.exit(main())
