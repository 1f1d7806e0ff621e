if(TARGET sr_collector_metrics)
  sr_add_fuzzer(fuzz_procfs SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_procfs.c LIBS sr_collector_metrics)
endif()
