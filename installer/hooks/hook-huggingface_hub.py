"""huggingface_hub (no hook in pyinstaller-hooks-contrib) loads its public names lazily (``_attach``:
``importlib.import_module`` by name), which the analysis cannot follow. The app never downloads anything;
diffusers imports these modules for file names, errors and offline loading of local folders."""
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("huggingface_hub", filter=lambda name: not name.startswith(
    ("huggingface_hub.cli", "huggingface_hub.commands")))
datas = copy_metadata("huggingface_hub")
