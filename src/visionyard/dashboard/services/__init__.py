"""Business logic: routers parse and serialise, services decide, SQL lives in repositories."""
