if(TARGET sr_agent_transport)
  sr_add_fuzzer(fuzz_transport_cmd SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_transport_cmd.c LIBS sr_agent_transport)
endif()
