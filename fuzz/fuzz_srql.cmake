# SRQL parse + compile over arbitrary text. The library's sources are compiled into the harness
# so libFuzzer's coverage reaches them.
set(SR_SRQL_DIR ${CMAKE_CURRENT_SOURCE_DIR}/../src/lib/srql)
sr_add_fuzzer(fuzz_srql
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_srql.c ${SR_SRQL_DIR}/srql_arena.c ${SR_SRQL_DIR}/srql_fields.c
          ${SR_SRQL_DIR}/srql_values.c ${SR_SRQL_DIR}/srql_parse.c ${SR_SRQL_DIR}/srql_compile.c
          ${SR_SRQL_DIR}/srql_cursor.c
  LIBS sr_srql)
