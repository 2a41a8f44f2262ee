"""virga: a CloudStack-style cloud in a box."""

__version__ = "0.1.0"
