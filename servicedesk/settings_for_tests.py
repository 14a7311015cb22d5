"""The settings the test suite runs with: `servicedesk.settings` without a developer's `.env`.

Tests set what they need themselves; a local `.env` (its database, broker, mail server,
admin) must change nothing, in this process or in the processes tests start, which
inherit READ_DOT_ENV=false and this module from the environment.
"""

import os

os.environ["READ_DOT_ENV"] = "false"

from servicedesk.settings import *  # noqa: F403
