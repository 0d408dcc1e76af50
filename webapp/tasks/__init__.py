"""The page of one human task: its form, shown to whoever may work it."""
