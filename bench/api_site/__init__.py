"""The server bench.api_load runs under gunicorn: the product's settings and URLs plus one
no-op authenticated view as the baseline. Used by the benchmark only, never by production."""
