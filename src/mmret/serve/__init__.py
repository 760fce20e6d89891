"""The HTTP server and web page (`pip install 'mmret[serve]'`): `mmret.serve.app.create_app(collection, settings)`;
`mmret serve` runs it with uvicorn (run.py)."""
