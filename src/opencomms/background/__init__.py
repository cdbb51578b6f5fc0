"""What every background worker uses, whichever package it belongs to (the engine's
fan-out and dispatch, the events' sink delivery): a doorbell that wakes it, and a
capped backoff while the database is unavailable."""
