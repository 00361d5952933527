"""The only WSGI entry: ``gunicorn wsgi:app`` or ``flask --app wsgi …``."""

from dotenv import load_dotenv

from app.factory import create_app

load_dotenv()  # a .env file in development; real deployments set the environment
app = create_app()
