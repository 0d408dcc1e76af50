"""The incidents page: automatic steps that failed, for process owners and the secretariat."""
