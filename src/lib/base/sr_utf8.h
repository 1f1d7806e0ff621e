/* UTF-8 validation for text that goes into C strings, protobuf strings and text columns. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8: no overlong forms, no surrogates (U+D800..U+DFFF),
 * nothing above U+10FFFF, no truncated sequence, and no NUL byte (which no C string or text
 * column can carry). An empty string is valid. */
bool sr_utf8_valid(const char *s, size_t len);
/* As sr_utf8_valid, and also rejects the C0 controls (U+0000..U+001F) and DEL (U+007F): text
 * meant to be shown or used as a label. */
bool sr_utf8_valid_printable(const char *s, size_t len);
