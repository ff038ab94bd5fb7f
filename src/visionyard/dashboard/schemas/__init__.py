"""The API's request and response bodies, one module per resource.

`common` holds what every resource shares: the request-body base (unknown fields are refused),
the page envelope and its query parameters, and the input types that keep both databases out of
trouble. Routers import their bodies from here and keep only parse, authorize, call, serialise.
"""
