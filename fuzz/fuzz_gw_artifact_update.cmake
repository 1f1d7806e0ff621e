# The parser lives in gw_artifact_doc.c (sr_gateway_parts, no NATS or gRPC).
if(TARGET sr_gateway_parts)
  sr_add_fuzzer(fuzz_gw_artifact_update
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_gw_artifact_update.c ${CMAKE_CURRENT_SOURCE_DIR}/../src/gateway/gw_artifact_doc.c
    LIBS sr_gateway_parts)
endif()
