"""``genfer serve``: an HTTP JSON API and a web page over genfer's models (FastAPI + uvicorn, the ``serve`` extra).

:func:`~genfer.serve.app.create_app` builds the application over :class:`~genfer.serve.services.Services` (the
models, loaded once); :mod:`genfer.serve.uploads` checks uploads; :mod:`genfer.serve.limits` caps request bodies;
:mod:`genfer.serve.background` runs a server in a thread (tests, benchmarks, screenshots). The page
(``static/``) is plain HTML, CSS and JavaScript that calls the same API. See docs/serve.md.
"""
