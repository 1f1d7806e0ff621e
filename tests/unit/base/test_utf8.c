/* Unit tests: strict UTF-8 validation (sr_utf8_valid, sr_utf8_valid_printable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sr_utf8.h"

#define VALID(lit) assert_true(sr_utf8_valid(lit, sizeof(lit) - 1))
#define INVALID(lit) assert_false(sr_utf8_valid(lit, sizeof(lit) - 1))
#define PRINTABLE(lit) assert_true(sr_utf8_valid_printable(lit, sizeof(lit) - 1))
#define NOT_PRINTABLE(lit) assert_false(sr_utf8_valid_printable(lit, sizeof(lit) - 1))

static void test_valid(void **state) {
    (void)state;
    VALID("");
    VALID("plain ascii");
    VALID("\x7f");                                          /* DEL is UTF-8 */
    VALID("\t\r\n");                                        /* so are controls */
    VALID("\xc2\x80");                                      /* U+0080, smallest 2-byte */
    VALID("\xdf\xbf");                                      /* U+07FF */
    VALID("\xe0\xa0\x80");                                  /* U+0800, smallest 3-byte */
    VALID("\xed\x9f\xbf");                                  /* U+D7FF, just below the surrogates */
    VALID("\xee\x80\x80");                                  /* U+E000, just above */
    VALID("\xef\xbf\xbf");                                  /* U+FFFF */
    VALID("\xf0\x90\x80\x80");                              /* U+10000, smallest 4-byte */
    VALID("\xf4\x8f\xbf\xbf");                              /* U+10FFFF, the largest */
    VALID("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 end"); /* mixed */
    /* the length bounds the check, not a NUL */
    assert_true(sr_utf8_valid("ab\xff", 2));
    assert_true(sr_utf8_valid(NULL, 0));
}

static void test_overlong(void **state) {
    (void)state;
    INVALID("\xc0\x80");         /* NUL in 2 bytes */
    INVALID("\xc0\xaf");         /* '/' in 2 bytes */
    INVALID("\xc1\xbf");         /* U+007F in 2 bytes */
    INVALID("\xe0\x80\xaf");     /* '/' in 3 bytes */
    INVALID("\xe0\x9f\xbf");     /* U+07FF in 3 bytes */
    INVALID("\xf0\x80\x80\xaf"); /* '/' in 4 bytes */
    INVALID("\xf0\x8f\xbf\xbf"); /* U+FFFF in 4 bytes */
}

static void test_surrogate(void **state) {
    (void)state;
    INVALID("\xed\xa0\x80");                 /* U+D800 */
    INVALID("\xed\xad\xbf");                 /* U+DB7F */
    INVALID("\xed\xb0\x80");                 /* U+DC00 */
    INVALID("\xed\xbf\xbf");                 /* U+DFFF */
    INVALID("\xed\xa0\xbd\xed\xb8\x80");     /* CESU-8 pair for U+1F600 */
    INVALID("ok \xed\xa0\x80 ok");
}

static void test_truncated(void **state) {
    (void)state;
    INVALID("\xc3");
    INVALID("\xe2\x82");
    INVALID("\xf0\x9f\x98");
    INVALID("abc\xe2");
    INVALID("\xe2\x82 ");         /* continuation missing mid-string */
    INVALID("\xf0\x9f\x98\x41"); /* last byte not a continuation */
    INVALID("\x80");             /* lone continuation */
    INVALID("a\xbf" "b");
    /* a sequence cut by len although the bytes follow in memory */
    assert_false(sr_utf8_valid("\xc3\xa9", 1));
    assert_false(sr_utf8_valid("\xf0\x9f\x98\x80", 3));
}

static void test_above_max(void **state) {
    (void)state;
    INVALID("\xf4\x90\x80\x80");             /* U+110000 */
    INVALID("\xf4\xbf\xbf\xbf");             /* U+13FFFF */
    INVALID("\xf5\x80\x80\x80");             /* lead above 0xf4 */
    INVALID("\xf7\xbf\xbf\xbf");             /* U+1FFFFF */
    INVALID("\xf8\x88\x80\x80\x80");         /* old 5-byte form */
    INVALID("\xfc\x84\x80\x80\x80\x80");     /* old 6-byte form */
    INVALID("\xfe");
    INVALID("\xff");
}

static void test_nul(void **state) {
    (void)state;
    assert_false(sr_utf8_valid("a\0b", 3));
    assert_false(sr_utf8_valid("\0", 1));
    assert_false(sr_utf8_valid_printable("a\0b", 3));
}

static void test_printable(void **state) {
    (void)state;
    PRINTABLE("");
    PRINTABLE("eth0");
    PRINTABLE("/var/lib \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80");
    PRINTABLE(" ~");
    PRINTABLE("\xc2\x80"); /* C1 controls are not rejected, only C0 and DEL */
    NOT_PRINTABLE("tab\there");
    NOT_PRINTABLE("line\n");
    NOT_PRINTABLE("\x01");
    NOT_PRINTABLE("\x1f");
    NOT_PRINTABLE("del\x7f");
    /* and everything sr_utf8_valid rejects */
    NOT_PRINTABLE("\xc0\x80");
    NOT_PRINTABLE("\xed\xa0\x80");
    NOT_PRINTABLE("\xe2\x82");
    NOT_PRINTABLE("\xf4\x90\x80\x80");
}

/* Every 1- and 2-byte input agrees with a decoder written from the definition. */
static bool ref_valid(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint32_t c = s[i], cp, min;
        size_t n;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (i + n >= len)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

static void test_exhaustive_short(void **state) {
    (void)state;
    unsigned char b[3];
    for (unsigned x = 0; x < 256; x++) {
        b[0] = (unsigned char)x;
        assert_int_equal(sr_utf8_valid((const char *)b, 1), ref_valid(b, 1));
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (unsigned char)y;
            assert_int_equal(sr_utf8_valid((const char *)b, 2), ref_valid(b, 2));
        }
    }
    /* all 3-byte sequences led by 0xe0..0xef */
    for (unsigned x = 0xe0; x <= 0xef; x++)
        for (unsigned y = 0x80; y < 0xc0; y++)
            for (unsigned z = 0; z < 256; z++) {
                b[0] = (unsigned char)x, b[1] = (unsigned char)y, b[2] = (unsigned char)z;
                assert_int_equal(sr_utf8_valid((const char *)b, 3), ref_valid(b, 3));
            }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),     cmocka_unit_test(test_overlong),  cmocka_unit_test(test_surrogate),
        cmocka_unit_test(test_truncated), cmocka_unit_test(test_above_max), cmocka_unit_test(test_nul),
        cmocka_unit_test(test_printable), cmocka_unit_test(test_exhaustive_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
