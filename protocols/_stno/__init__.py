"""Shared ground of the STNO protocols (not a protocol module: discovery skips it).

``base`` the abstract spectra protocol (analyzer, biasing, field, safe shutdown) and its peak columns;
``magnet`` the field ramp; ``spectra`` peak finding; ``figures`` the protocols' figures.
"""
