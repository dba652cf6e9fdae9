"""gunicorn reads this file from the folder it starts in: Mutu's defaults for serving.

``gunicorn -w 4 -b 0.0.0.0:5000 web.wsgi:app`` picks it up; flags on the command line win.
"""

from gunicorn.http import wsgi

_default_headers = wsgi.Response.default_headers


def _without_server(self):  # type: ignore[no-untyped-def]
    """gunicorn always names itself and its version in a ``Server`` header; say nothing instead."""
    return [h for h in _default_headers(self) if not h.lower().startswith("server:")]


wsgi.Response.default_headers = _without_server
