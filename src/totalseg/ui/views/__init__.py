"""The app's pages, one module each (segment, viewer, measurements, compare, export), plus the
session helpers they share in ``session.py``. Each page has ``render(config)``: it reads widgets,
calls library functions and shows the result; errors become messages in the page."""
