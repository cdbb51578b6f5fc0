"""Prometheus metrics: the counters and histograms the hot paths move (instruments.py),
the database's time per transaction kind (timed_database.py). What is computed at scrape
time from the database and the connectors, and the `/metrics` endpoint, are in
api/metrics.py."""
