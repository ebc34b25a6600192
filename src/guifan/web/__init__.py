"""The QA workspace: a web application over the engine (``guifan serve``)."""
