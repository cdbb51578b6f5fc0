"""HTTP: one module per resource, the wire schemas, errors and authentication."""
