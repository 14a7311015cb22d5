import os

from django.core.asgi import get_asgi_application

# Production unless the environment names another settings module, as in wsgi.py.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings.production")

application = get_asgi_application()
