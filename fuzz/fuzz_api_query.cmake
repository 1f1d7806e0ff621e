# The parser's source is compiled into the harness (not only linked from sr_core_api_query) so
# that libFuzzer's coverage instrumentation reaches it.
sr_add_fuzzer(fuzz_api_query
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_api_query.c ${CMAKE_CURRENT_SOURCE_DIR}/../src/core/api/sr_api_query.c
  LIBS sr_core_api_query)
