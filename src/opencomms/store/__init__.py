"""Storage: tables, queries and bulk paths. No SQL lives outside this package."""
