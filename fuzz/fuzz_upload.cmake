sr_add_fuzzer(fuzz_upload SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_upload.c LIBS sr_telemetry)
