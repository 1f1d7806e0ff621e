# The tokenizer's source is compiled into the harness so libFuzzer's coverage reaches it.
sr_add_fuzzer(fuzz_wordpiece
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_wordpiece.c ${CMAKE_CURRENT_SOURCE_DIR}/../src/core/embed/sr_wordpiece.c
  LIBS sr_wordpiece)
