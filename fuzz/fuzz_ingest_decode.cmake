sr_add_fuzzer(fuzz_ingest_decode SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_ingest_decode.c LIBS sr_core_ingest_decode)
