"""The build stages: plain functions with explicit inputs and outputs.

``config`` (the release configuration), ``toolchain``, ``sdk``,
``compiler`` (clang, llvm-ar, ld64.lld, llvm-lipo), ``bundle`` (the .app),
``unsigned_tarball`` (for the signer), ``signature`` (apply a detached
signature), ``finder`` (the Finder window's .DS_Store and background),
``image`` (HFS+ + UDIF), ``manifest`` (build manifests, SHA256SUMS);
``paths`` says where each output goes and ``code_inputs`` which code each
stage runs.  The front ends (``dodo.py``, the CLI) call them; they never
import the front ends.
"""
