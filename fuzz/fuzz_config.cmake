sr_add_fuzzer(fuzz_config SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_config.c LIBS sr_config)
