"""Watching a served model: drift of its inputs and answers from the baseline training recorded."""
