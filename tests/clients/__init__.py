"""Real CloudStack clients (CloudMonkey) against `virga serve`."""
