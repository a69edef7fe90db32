"""API routers, one per actor, plus the shared reads and the relay."""
