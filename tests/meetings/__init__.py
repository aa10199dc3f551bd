"""Tests of the meetings package: the pure slot engine and the booking services around it."""
