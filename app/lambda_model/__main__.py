import sys

from lambda_model.cli import main

sys.exit(main())
