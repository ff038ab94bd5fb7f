"""The FastAPI dashboard: REST API under /api/v1, live events over WebSocket."""
