"""Downloads of uploaded documents."""
