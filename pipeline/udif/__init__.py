"""UDIF (.dmg): read, verify and write Apple disk images, reproducibly.

Structures, one module each (FORMATS.md section 2): ``koly`` (trailer),
``mish`` (blkx block tables and chunks), ``resources`` (the XML property
list), ``partitions`` (none/MBR/GPT/APM maps; writing none and GPT),
``codecs`` (every chunk codec, pinned compressors, ADC decoder).
Images: ``reader.open_udif`` / ``UDIFImage``, ``verify``, ``info``.
Writing: ``writer.write_udif`` (and ``write_layout``), ``convert``,
``manifest``.  Nothing here knows about doit or the command line.
"""
