"""Tikiti: event tickets over USSD, SMS and chat, paid with mobile money."""
