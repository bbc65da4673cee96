/* JSON text written as UTF-8 into a growing buffer: what the compiled twins that write JSON share
 * (postgres/_jsonl.c, an export's line; sqlite/_content.c, a captured row's content text).
 *
 * Strings are escaped by _json_escape.h (its header comment says how); each including module calls
 * fill_escapes() once, from its PyInit.
 */
#ifndef SKILLS_JSON_TEXT_H
#define SKILLS_JSON_TEXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "_json_escape.h"

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

/* UTF-8 bytes as a JSON string, quotes included. */
static int put_escaped(Buffer *b, const unsigned char *text, Py_ssize_t length) {
    if (!grow(b, JSON_STRING_ROOM(length))) return 0;
    b->length = json_string_at(b->data + b->length, text, (size_t)length) - b->data;
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
