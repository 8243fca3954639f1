"""HFS+ / HFSX volumes: a deterministic writer and a defensive reader.

Layers (pyelftools style), each module with one job:

- ``structs``: on-disk layouts (volume header, forks, catalog/attribute records)
- ``unicode``: Apple decomposition and TN1150 case-folding order
- ``btree``: bottom-up B-tree builder and checked node reader
- ``volume``: volume header and fork-extent checks shared by readers
- ``tree``: the in-memory tree a volume is authored from
- ``writer``: ``build_volume(...) -> HFSVolume`` (an ImageSource)
- ``reader``: ``HFSReader(source, name)``: entries, streams, extract
- ``decmpfs``: HFS+ transparent compression (read side)
- ``freespace``: ``free_byte_ranges`` for the UDIF writer's ignore chunks
- ``listing``: human listing of entries

Reference: Apple TN1150 "HFS Plus Volume Format"; design/FORMATS.md section 1.
"""
