# The parser's sources are compiled into the harness so that libFuzzer's coverage reaches them.
set(SR_LOGPARSE_DIR ${CMAKE_CURRENT_SOURCE_DIR}/../src/lib/logparse)
sr_add_fuzzer(fuzz_logparse
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_logparse.c ${SR_LOGPARSE_DIR}/sr_logparse.c
          ${SR_LOGPARSE_DIR}/sr_logparse_time.c ${SR_LOGPARSE_DIR}/sr_logparse_text.c
          ${SR_LOGPARSE_DIR}/sr_logparse_sshd.c ${SR_LOGPARSE_DIR}/sr_logparse_auth.c
  LIBS sr_logparse sr_base)
