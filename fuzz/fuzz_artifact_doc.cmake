# The parser lives in src/agent/artifact/sr_artifact_doc.c (no gRPC calls).
if(TARGET sr_agent_artifact_doc)
  sr_add_fuzzer(fuzz_artifact_doc
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_artifact_doc.c
            ${CMAKE_CURRENT_SOURCE_DIR}/../src/agent/artifact/sr_artifact_doc.c
    LIBS sr_agent_artifact_doc)
endif()
