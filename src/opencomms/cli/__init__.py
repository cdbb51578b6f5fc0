"""The command line: serve, migrate, credentials, send, watch."""
