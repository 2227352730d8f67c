import sys

from lambda_release.rollout import main

sys.exit(main())
