"""The in-app copy of every notification a user was sent, e-mailed or not."""
