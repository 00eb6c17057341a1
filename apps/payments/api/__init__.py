"""`payments/` (with refunds) and the account statement."""
