"""Transports: parse webhooks into Inbounds, render Replies, send outbound messages."""
