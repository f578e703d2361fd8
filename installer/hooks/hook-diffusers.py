"""diffusers (no hook in pyinstaller-hooks-contrib): it imports its classes lazily (``_LazyModule``:
``from diffusers import UNet2DConditionModel`` and ``getattr(diffusers, "DPMSolverMultistepScheduler")`` load
submodules by name at run time), and checks its dependencies' versions through package metadata at import."""
from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

# every submodule except the `diffusers-cli` commands
hiddenimports = collect_submodules("diffusers", filter=lambda name: not name.startswith("diffusers.commands"))
datas = collect_data_files("diffusers")
# dependency_versions_check needs requests/filelock/numpy metadata; is_torch_available() etc. read metadata too
datas += copy_metadata("diffusers", recursive=True)
for dist in ("torch", "accelerate", "safetensors", "huggingface_hub"):
    datas += copy_metadata(dist)
# source next to the bytecode: diffusers reads some of its own source with inspect (modular pipelines,
# source_code_parsing_utils) and tracebacks of a failed model load are readable
module_collection_mode = "pyz+py"
