sr_add_fuzzer(fuzz_oci_manifest SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_oci_manifest.c LIBS sr_core_oci)
