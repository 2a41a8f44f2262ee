"""Serialisers: database rows to CloudStack response objects (fields as its response classes)."""
