"""The shared booking dialog; channel-agnostic."""
