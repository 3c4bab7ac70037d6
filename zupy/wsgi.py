import os

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zupy.settings")
application = get_wsgi_application()

# gunicorn runs no system checks of its own; a serious one (e.g. otp.E001, OTP codes to stdout with
# DEBUG off) stops the worker from booting, so gunicorn exits instead of serving. SILENCED_SYSTEM_CHECKS
# holds here as in manage.py check.
_serious = [message for message in checks.run_checks() if message.is_serious() and not message.is_silenced()]
if _serious:
    raise ImproperlyConfigured("; ".join(str(message) for message in _serious))
