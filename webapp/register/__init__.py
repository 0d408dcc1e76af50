"""The register's pages: the secretariat's search, export and member pages; a member's own."""
