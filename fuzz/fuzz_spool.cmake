sr_add_fuzzer(fuzz_spool SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_spool.c LIBS sr_agent_spool)
