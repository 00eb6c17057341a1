"""`invoices/` and `credit-notes/`."""
