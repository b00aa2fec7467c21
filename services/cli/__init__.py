"""`refhub`: run the stack locally, manage API keys, replay parked events."""
from .main import main

__all__ = ["main"]
