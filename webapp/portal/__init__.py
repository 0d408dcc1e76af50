"""The applicant's pages: my applications, and where each one stands."""
