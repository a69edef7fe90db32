"""Request and response models of the service layer, shared by the API and the dashboard."""
