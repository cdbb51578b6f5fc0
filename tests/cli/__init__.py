"""The command line: send and watch against a real server; recipients; connection settings."""
