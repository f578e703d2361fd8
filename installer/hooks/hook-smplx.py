"""smplx: plain Python, but its dist-info carries its licence (non-commercial terms of the Max Planck
Institute); it ships with the metadata, and installer/bundle.py copies it to LICENSES/. No SMPL-X model file
is ever bundled: users point the app at their own download (see LICENSES/SMPL-X-NOT-INCLUDED.txt)."""
from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("smplx")
