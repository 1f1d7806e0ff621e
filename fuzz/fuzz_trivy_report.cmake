sr_add_fuzzer(fuzz_trivy_report SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_trivy_report.c LIBS sr_core_vuln_report)
