# The Celery app is created when Django starts (ServicedeskConfig.ready), not on import of
# this package: importing it here would let celery.py choose the settings module for
# every process that imports anything of the package, wsgi.py included.
