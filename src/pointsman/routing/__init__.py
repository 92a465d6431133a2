"""Which deployment serves a request: the alias table now; policies and constraints later."""
