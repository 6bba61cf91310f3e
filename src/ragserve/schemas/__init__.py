"""Validated request models shared by the API (which parses them) and the services (which act)."""
