"""Reports people look at: the gate's and the drift check's results as pictures, Markdown and one HTML page."""
