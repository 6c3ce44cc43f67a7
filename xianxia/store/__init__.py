"""Persistence behind one interface; the backend is chosen by the database URL."""
