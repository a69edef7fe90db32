"""Workflows of the financing service: keyword-only functions between the API routers and chain/DB."""
