if(TARGET sr_gateway_parts)
  sr_add_fuzzer(fuzz_gw_command SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_gw_command.c LIBS sr_gateway_parts)
endif()
