# SR_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer, abort on the first report.
if(SR_SANITIZE)
  set(SR_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${SR_SAN_FLAGS} -O1 -g)
  add_link_options(${SR_SAN_FLAGS})
endif()
# SR_FUZZ=ON: coverage instrumentation for every object, so libFuzzer sees inside our libraries
# (the fuzz binaries add -fsanitize=fuzzer at link time).
if(SR_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
