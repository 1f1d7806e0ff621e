# The tokenizer's source is compiled into the harness so libFuzzer's coverage reaches it.
sr_add_fuzzer(fuzz_search
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_search.c ${CMAKE_CURRENT_SOURCE_DIR}/../src/lib/search/sr_search.c
  LIBS sr_search)
