sr_add_fuzzer(fuzz_falco SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_falco.c LIBS sr_core_ingest_decode)
