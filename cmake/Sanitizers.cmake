# SR_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer, abort on the first report.
if(SR_SANITIZE)
  set(SR_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${SR_SAN_FLAGS} -O1 -g)
  add_link_options(${SR_SAN_FLAGS})
endif()
