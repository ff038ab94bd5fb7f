"""HTTP routes, one module per resource. Thin: parse, authorize, call a service, serialise."""
