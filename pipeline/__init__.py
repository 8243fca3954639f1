"""reprodmg: reproducible macOS app bundles and .dmg installers built on Linux.

Layers (dependencies point downward only):
  1. format libraries: ``pipeline.hfs``, ``pipeline.udif``, ``pipeline.macho``
  2. stages: toolchain, sdk, compile, bundle, image, sign
  3. front ends: ``dodo.py`` and ``pipeline.cli``
"""

__version__ = "0.1.0"
