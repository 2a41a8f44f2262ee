"""The CloudStack-dialect API: registry, authentication, dispatch and the ASGI server."""
