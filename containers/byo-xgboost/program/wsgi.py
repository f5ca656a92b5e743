"""gunicorn entry point: ``gunicorn wsgi:app``."""

import predictor

app = predictor.create_app()
