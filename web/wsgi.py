"""The WSGI entry point for a production server: ``gunicorn -w 4 web.wsgi:app``.

Settings come from ``MUTU_*`` variables; the timers run in ``mutu scheduler`` beside it.
"""

from web import create_app

app = create_app()
