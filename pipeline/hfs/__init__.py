"""HFS+ / HFSX volumes: a deterministic writer and a defensive reader.

Layers (pyelftools style): ``structs`` (on-disk layouts), ``btree`` (node
building and walking), ``writer`` / ``reader`` (volume objects), ``listing``
(human views).  Reference: Apple TN1150 "HFS Plus Volume Format".
"""
