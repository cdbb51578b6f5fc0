"""The opencomms benchmark harness (issue 5): `make bench` or `python -m bench`."""
