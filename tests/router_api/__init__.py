"""Guest networking through the API with real virtual routers in network namespaces."""
