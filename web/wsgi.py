"""The WSGI entry point for a production server: ``gunicorn -w 4 web.wsgi:app``.

Settings come from ``MUTU_*`` variables; the timers run in ``mutu scheduler`` beside it.
"""

import logging
import os

from engine import logs
from web import create_app

# One line a record, JSON when asked; MUTU_LOG_LEVEL=WARNING drops the access lines.
logs.configure(
    os.environ.get("MUTU_LOG_FORMAT", "text"),
    getattr(logging, os.environ.get("MUTU_LOG_LEVEL", "INFO").upper(), 20),
)
app = create_app()
