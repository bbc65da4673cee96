/* A JSON string written into room the caller already has: what every compiled twin that writes JSON
 * shares (postgres/_jsonl.c and sqlite/_content.c through _json_text.h; sqlite/_jsonl.c directly,
 * which runs without the GIL and keeps its own raw-allocated buffer).
 *
 * A string is escaped as json.encoder.encode_basestring and SQLite's json_quote do: the quote, the
 * backslash and the controls below 0x20; everything else, non-ASCII included, is copied as it is.
 * No allocation and no Python object, so it is safe without the GIL. Each including module calls
 * fill_escapes() once, from its PyInit.
 */
#ifndef SKILLS_JSON_ESCAPE_H
#define SKILLS_JSON_ESCAPE_H

#include <stddef.h>
#include <string.h>

/* The most a JSON string of n bytes can take: \u00XX for each byte, and the two quotes. */
#define JSON_STRING_ROOM(n) ((n) * 6 + 2)

/* What needs an escape in a JSON string: 0 for a byte copied as it is, else the escape's letter
 * ('u' for \u00XX). */
static char escapes[256];
static void fill_escapes(void) {
    for (int c = 0; c < 0x20; c++) escapes[c] = 'u';
    escapes['"'] = '"';
    escapes['\\'] = '\\';
    escapes['\n'] = 'n';
    escapes['\r'] = 'r';
    escapes['\t'] = 't';
    escapes['\b'] = 'b';
    escapes['\f'] = 'f';
}

/* UTF-8 `s` (n bytes) as a JSON string, quotes included, at `out`, which has JSON_STRING_ROOM(n)
 * bytes of room: runs of plain bytes copied whole. Returns the end of what it wrote. */
static char *json_string_at(char *out, const unsigned char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    *out++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && !escapes[s[run]]) run++;
        memcpy(out, s + i, run - i);
        out += run - i;
        if (run == n) break;
        unsigned char c = s[run];
        char e = escapes[c];
        *out++ = '\\';
        if (e == 'u') {
            *out++ = 'u', *out++ = '0', *out++ = '0', *out++ = hex[c >> 4], *out++ = hex[c & 15];
        } else {
            *out++ = e;
        }
        i = run + 1;
    }
    *out++ = '"';
    return out;
}

#endif
