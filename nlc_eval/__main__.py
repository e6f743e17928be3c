import sys

from nlc_eval.cli import main

sys.exit(main())
