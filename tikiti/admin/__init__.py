"""The organizer web admin, gate scanner and phone simulator."""
