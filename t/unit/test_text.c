/*
 * Unit tests for src/core/text.c: which bytes are printable, and UUIDs in
 * their text form.
 */
#include <criterion/criterion.h>

#include "core/text.h"

Test(text, printable)
{
    cr_assert(text_printable("", 0));
    cr_assert(text_printable("plain text, with punctuation!~", 30));
    cr_assert(text_printable("caf\xc3\xa9", 5));
    cr_assert_not(text_printable("\x1f", 1));
    cr_assert_not(text_printable("\x7f", 1));
    cr_assert_not(text_printable("a\tb", 3));
    cr_assert_not(text_printable("ab\0", 3), "NUL is a control character");
    cr_assert(text_printable("ab\x01", 2), "only len bytes are looked at");
    for (int c = 0; c < 0x20; c++) {
        char s[2] = {(char)c, 0};
        cr_assert_not(text_printable(s, 1), "byte 0x%02x", c);
    }
}

Test(text, uuid)
{
    cr_assert(text_is_uuid("3f4a80d3-bfe0-4ce7-b0f9-67da09d55679"));
    cr_assert(text_is_uuid("3F4A80D3-BFE0-4CE7-B0F9-67DA09D55679"));
    cr_assert_not(text_is_uuid(""));
    cr_assert_not(text_is_uuid("3f4a80d3bfe04ce7b0f967da09d55679"));
    cr_assert_not(text_is_uuid("3f4a80d3-bfe0-4ce7-b0f9-67da09d5567"));
    cr_assert_not(text_is_uuid("3f4a80d3-bfe0-4ce7-b0f9-67da09d556790"));
    cr_assert_not(text_is_uuid("3f4a80d3-bfe0-4ce7-b0f9_67da09d55679"));
    cr_assert_not(text_is_uuid("gf4a80d3-bfe0-4ce7-b0f9-67da09d55679"));
    cr_assert_not(text_is_uuid("%00"));
}
