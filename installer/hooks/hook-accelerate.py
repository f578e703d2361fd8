"""accelerate: diffusers checks it by package metadata (is_accelerate_available) and accelerate checks
torch's version the same way. (``accelerate launch`` is a developer tool: not part of the bundle's CLI.)"""
from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("accelerate", recursive=True)
