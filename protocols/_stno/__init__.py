"""Shared ground of the STNO protocols (not a protocol module: discovery skips it).

``base`` the abstract spectra protocol (analyzer, biasing, field, safe shutdown) and its peak columns;
``magnet`` the field ramp; ``spectra`` peak finding; ``figures`` the spectra and tongue figures;
``vowel_readout``, ``vowel_learning`` and ``vowel_figure`` the vowel experiment's synchronization-map
readout and learning rule (pure numpy) and its figure.
"""
