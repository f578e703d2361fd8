"""ai-edge-litert (the BlazePose runtime, engine/body/blazepose.py): the interpreter imports its pybind11
wrapper inside a try/except, and the wrapper needs libpywrap_litert_common (found through its RUNPATH).
Only the interpreter is used: the converter, the compiled-model API and the WebGPU accelerator stay out."""
from PyInstaller.utils.hooks import collect_dynamic_libs, copy_metadata

hiddenimports = ["ai_edge_litert.interpreter", "ai_edge_litert._pywrap_litert_interpreter_wrapper"]
binaries = [b for b in collect_dynamic_libs("ai_edge_litert") if "pywrap_litert_common" in b[0]]
datas = copy_metadata("ai-edge-litert")
excludedimports = ["ai_edge_litert.aot", "ai_edge_litert.tools", "ai_edge_litert.vendors"]
