# Picky warnings, each checked with the compiler first. SR_WERROR turns them into errors.
include(CheckCCompilerFlag)
set(SR_WARNING_FLAGS
  -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith
  -Wcast-qual -Wwrite-strings -Wundef -Wvla -Wimplicit-fallthrough -fno-common)
set(SR_C_WARNINGS "")
foreach(flag IN LISTS SR_WARNING_FLAGS)
  string(MAKE_C_IDENTIFIER "SR_HAS${flag}" var)
  check_c_compiler_flag("${flag}" ${var})
  if(${var})
    list(APPEND SR_C_WARNINGS "${flag}")
  endif()
endforeach()
if(SR_WERROR)
  list(APPEND SR_C_WARNINGS -Werror)
endif()

# sr_target_warnings(target): picky warnings for our own code.
function(sr_target_warnings target)
  target_compile_options(${target} PRIVATE ${SR_C_WARNINGS})
endfunction()
