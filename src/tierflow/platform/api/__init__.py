"""The REST API of Tierflow: FastAPI app factory, routers per actor, dependencies and error handlers."""
