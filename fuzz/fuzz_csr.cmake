sr_add_fuzzer(fuzz_csr SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_csr.c LIBS sr_pki)
