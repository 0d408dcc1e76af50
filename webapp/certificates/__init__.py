"""Member certificates: the PDF download, the public verification page and the member register."""
