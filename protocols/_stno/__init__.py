"""Shared ground of the STNO protocols (not a protocol module: discovery skips it).

``base`` the abstract spectra protocol (analyzer, biasing, field, safe shutdown) and its peak columns;
``magnet`` the field ramp; ``spectra`` peak finding; ``figures`` the spectra and tongue figures;
``vowel_data`` (talkers, split, encoding), ``vowel_design`` (starting placement and target maps),
``vowel_readout``, ``vowel_learning`` and ``vowel_mlp`` (the software reference) the vowel experiment's
pure parts, ``vowel_figure`` its figure.
"""
