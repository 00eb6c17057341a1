"""What every API resource shares: problems, permissions, pagination, throttling, headers, schema."""
