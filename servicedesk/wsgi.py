import os

from django.core.wsgi import get_wsgi_application

# What a WSGI server serves is production unless the environment names another
# settings module (runserver keeps the one manage.py chose).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings.production")

application = get_wsgi_application()

from servicedesk.startup import require_collected_static_files  # noqa: E402 (needs Django set up)

require_collected_static_files()
