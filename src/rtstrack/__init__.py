"""rtstrack: RTS, robust visual tracking by segmentation, in plain PyTorch.

Frames are ``(H, W, 3)`` ``uint8`` numpy arrays in **RGB** order. Boxes are
``(x, y, w, h)`` floats in full-image pixels, ``(x, y)`` the top-left corner.
Masks are ``(H, W)`` ``bool`` arrays.
"""

__version__ = "0.1.0"
