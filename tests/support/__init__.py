"""Test helpers shared by the suites: a real server in a thread, databases, clients."""
