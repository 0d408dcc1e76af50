"""Annual dues pages: the arrears list for the groups that confirm dues and keep the register."""
