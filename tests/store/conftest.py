"""A freshly migrated database on each engine, for the store's tests."""

from tests.support.migrated_database import db, url

__all__ = ["db", "url"]
