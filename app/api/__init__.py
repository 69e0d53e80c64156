"""HTTP API: thin views that validate, hand over to the run manager and respond."""
