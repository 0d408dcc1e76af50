"""The public notice board: the only page the public sees."""
