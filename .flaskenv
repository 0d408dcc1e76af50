# Read by the `flask` command (python-dotenv), so every command in the README works as written
# from the repository's root. Never a secret here: production sets its own environment.
FLASK_APP=webapp:create_app
