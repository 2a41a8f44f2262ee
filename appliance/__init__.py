"""What runs on the appliance beside the orchestrator: virtual router, storage, host setup."""
