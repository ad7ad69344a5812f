"""Shared ground of the RRAM die protocols (not a protocol module: discovery skips it).

``layout`` the die's geometry and the NeXus axes of its maps; ``base`` the abstract die protocol and
its parameter mixins; ``parameters`` parsing of list and pattern parameters; ``figures`` bit maps and
resistance histograms; ``bnn`` the binarized neural network the on-die inference experiment runs.
"""
