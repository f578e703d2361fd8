"""Data: the synthetic world's garments and heads, and readers for VITON-HD and DeepFashion-MultiModal.

Modules: ``garments`` (procedural garment specs and textures), ``heads`` (skin/hair specs),
``viton_hd`` and ``deepfashion_mm`` (real dataset readers in their published layouts).
Submodules are imported explicitly so ``import engine.data`` stays cheap.
"""
