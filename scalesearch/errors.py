"""Errors a user can cause: the CLI prints them as one line and exits with code 2."""


class UserError(ValueError):
    """Bad input from the user (names, numbers, paths, configs); never a bug."""
