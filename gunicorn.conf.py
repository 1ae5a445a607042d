"""gunicorn's configuration for a checkout: ``gunicorn -c gunicorn.conf.py 'callback.web.app:create_app()'``.

The settings live in callback/web/gunicorn_conf.py, so an installed package has them too
(``gunicorn -c python:callback.web.gunicorn_conf …``); read that file for what each one is for.
"""

from callback.web.gunicorn_conf import *  # noqa: F403
