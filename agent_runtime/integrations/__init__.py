"""Clients of the outside services tools talk to, and the guard on where they may go."""
