# Container detection from /proc/<pid>/cgroup text (src/agent/scan/sr_scan_target.c).
if(TARGET sr_agent_scan_core)
  sr_add_fuzzer(fuzz_scan_cgroup SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_scan_cgroup.c LIBS sr_agent_scan_core)
endif()
