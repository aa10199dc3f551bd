"""Meetings: agents' availability, free slots, booking and routing.

`slots` is the pure slot maths (no models, no I/O); the calendar providers, booking and routing
services sit beside it.
"""
