"""The WSGI entry point for a production server: ``gunicorn -w 4 web.wsgi:app``.

Settings come from ``MUTU_*`` variables; the timers run in ``mutu scheduler`` beside it.
"""

import os

from engine import logs
from web import create_app

logs.configure(os.environ.get("MUTU_LOG_FORMAT", "text"))  # one line a record, JSON when asked
app = create_app()
