/* JSON text written as UTF-8 into a growing buffer: what the compiled twins that write JSON share
 * (postgres/_jsonl.c, an export's line; sqlite/_content.c, a captured row's content text).
 *
 * A string is escaped as json.encoder.encode_basestring does: the quote, the backslash and the
 * controls below 0x20; everything else, non-ASCII included, is copied as it is. Each including
 * module calls fill_escapes() once, from its PyInit.
 */
#ifndef SKILLS_JSON_TEXT_H
#define SKILLS_JSON_TEXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef struct {
    char *data;
    Py_ssize_t length, size;
} Buffer;

static int grow(Buffer *b, Py_ssize_t more) {
    if (b->length + more <= b->size) return 1;
    Py_ssize_t size = b->size ? b->size : 1024;
    while (size < b->length + more) size *= 2;
    char *data = PyMem_Realloc(b->data, (size_t)size);
    if (data == NULL) {
        PyErr_NoMemory();
        return 0;
    }
    b->data = data;
    b->size = size;
    return 1;
}

static int put(Buffer *b, const char *text, Py_ssize_t length) {
    if (!grow(b, length)) return 0;
    memcpy(b->data + b->length, text, (size_t)length);
    b->length += length;
    return 1;
}

#define PUT_LITERAL(b, text) put((b), (text), (Py_ssize_t)(sizeof(text) - 1))

/* What needs an escape in a JSON string (json's encode_basestring): 0 for a byte copied as it is. */
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

/* UTF-8 bytes as a JSON string, quotes included. */
static int put_escaped(Buffer *b, const unsigned char *text, Py_ssize_t length) {
    static const char hex[] = "0123456789abcdef";
    if (!grow(b, length * 6 + 2)) return 0; /* the most an escape can take: \u00XX for one byte */
    char *out = b->data + b->length;
    *out++ = '"';
    for (Py_ssize_t i = 0; i < length; i++) {
        unsigned char c = text[i];
        char e = escapes[c];
        if (!e) {
            *out++ = (char)c;
        } else if (e == 'u') {
            *out++ = '\\';
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        } else {
            *out++ = '\\';
            *out++ = e;
        }
    }
    *out++ = '"';
    b->length = out - b->data;
    return 1;
}

/* A str's UTF-8 as it is (an object's str() for anything else). */
static int put_text(Buffer *b, PyObject *value) {
    PyObject *text = PyUnicode_Check(value) ? Py_NewRef(value) : PyObject_Str(value);
    if (text == NULL) return 0;
    Py_ssize_t length;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &length);
    int ok = utf8 != NULL && put(b, utf8, length);
    Py_DECREF(text);
    return ok;
}

#endif
