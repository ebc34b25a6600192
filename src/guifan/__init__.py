"""规范 Guifan: check customer-service conversations against a written service standard, offline."""

__version__ = "0.1.0"
