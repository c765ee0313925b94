"""Pages: the HTML views, one module per kind of page."""
