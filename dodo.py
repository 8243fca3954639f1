"""doit task graph: toolchain -> sdk -> compile -> bundle -> image.

Tasks only wire; every action is a plain function in ``pipeline``.
"""
