# cmake -DIN=openapi.json -DOUT=sr_api_openapi.c -P embed_openapi.cmake
# Writes the document as a byte array (NUL-terminated) with its length.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n    " bytes "${bytes}")
file(WRITE ${OUT}.tmp
"/* Generated from src/core/api/openapi.json by embed_openapi.cmake: do not edit. */
#include \"sr_api_internal.h\"

const char sr_api_openapi_json[] = {
    ${bytes}0x00};
const size_t sr_api_openapi_json_len = ${len};
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
