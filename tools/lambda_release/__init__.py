"""The release tool: the AWS steps of a release (roll the alias, verify, roll back), run by the workflows.

It is CI tooling, not part of the function: the serving image never contains it.
"""
