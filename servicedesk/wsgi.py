import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")

application = get_wsgi_application()

from servicedesk.startup import require_collected_static_files  # noqa: E402 (needs Django set up)

require_collected_static_files()
