"""`accounts/`: the billing accounts the platform creates and manages."""
