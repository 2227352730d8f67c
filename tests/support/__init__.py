"""Helpers shared by every test folder: local servers and the environment that points AWS clients at them."""
