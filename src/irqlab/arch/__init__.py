"""Encodings from the specifications: register maps, fields, commands, table entries.

Pure: constants and encode/decode functions named after IHI 0069 (GICv3/v4)
and IHI 0048 (GICv2).  Nothing here holds state.
"""
