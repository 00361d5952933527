"""The domain: pure rules for slots, capacity, booking and the callback life cycle.

Nothing in this package touches a database, the network, Flask or the clock: time is
always an argument.
"""
