"""The command line: serve, migrate, credentials, rotate-token, send, watch."""
