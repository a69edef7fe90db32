"""Platform side of Tierflow: indexer, SQL models, services, API and dashboard."""
