# Build options. Collectors get one option each (SR_COLLECTOR_<NAME>).
option(SR_WERROR "Treat warnings as errors" ON)
option(SR_SANITIZE "Build with ASan + UBSan" OFF)
option(SR_FUZZ "Build libFuzzer targets (clang only)" OFF)
option(SR_COLLECTOR_METRICS "Agent collector: host metrics from /proc and /sys" ON)
# Test builds only: environment variables (SR_FAULT_*) that make the gateway corrupt or slow down
# artifact chunks and the agent kill itself mid-download (docs/internals/artifacts.md). Never in a
# release build.
option(SR_FAULT_INJECTION "Test hooks for artifact distribution faults (tests only, never release)" OFF)
# Trivy as a library in the agent (src/agent/scan/trivy, Go c-archive; Go needed at build time).
# OFF builds the agent without it: no `trivy` capability, scans and DB installs answer "not built".
option(SR_TRIVY "Agent: vulnerability scanning with Trivy linked in (needs Go)" ON)
option(SR_JOURNALD "Agent: read the systemd journal (needs libsystemd, found with pkg-config)" ON)

# Sentence embeddings: `make model` (scripts/model.sh) caches the ONNX Runtime header, the runtime
# library and the model under $SR_CACHE/embed. SR_EMBED=OFF builds the core without the engine
# (the tokenizer is always built), for builds that only want the agent or the gateway. The runtime
# is loaded with dlopen at run time, so an operator can point the core at another build (a
# CUDA-enabled one) or another model.
option(SR_EMBED "Core: sentence embeddings through ONNX Runtime (needs `make model`)" ON)
if(DEFINED ENV{SR_CACHE})
  set(SR_CACHE_DIR "$ENV{SR_CACHE}")
else()
  set(SR_CACHE_DIR "$ENV{HOME}/.cache/serviceradar")
endif()
set(SR_ORT_INCLUDE_DIR "${SR_CACHE_DIR}/embed/ort/include" CACHE PATH "ONNX Runtime C API headers")
set(SR_ORT_LIBRARY "${SR_CACHE_DIR}/embed/ort/lib/libonnxruntime.so.1" CACHE FILEPATH
    "ONNX Runtime library the core loads by default")
set(SR_EMBED_MODEL_DIR "${SR_CACHE_DIR}/embed/all-MiniLM-L6-v2" CACHE PATH "default embedding model directory")
if(SR_EMBED AND NOT EXISTS "${SR_ORT_INCLUDE_DIR}/onnxruntime_c_api.h")
  message(FATAL_ERROR "ONNX Runtime header not found in ${SR_ORT_INCLUDE_DIR}: run `make model` "
                      "(or set SR_ORT_INCLUDE_DIR, or -DSR_EMBED=OFF)")
endif()
