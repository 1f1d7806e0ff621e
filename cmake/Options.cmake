# Build options. Collectors get one option each (SR_COLLECTOR_<NAME>).
option(SR_WERROR "Treat warnings as errors" ON)
option(SR_SANITIZE "Build with ASan + UBSan" OFF)
option(SR_FUZZ "Build libFuzzer targets (clang only)" OFF)
option(SR_COLLECTOR_METRICS "Agent collector: host metrics from /proc and /sys" ON)
option(SR_JOURNALD "Agent: read the systemd journal (needs libsystemd, found with pkg-config)" ON)
