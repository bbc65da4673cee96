/* The compiled twin of the PostgreSQL export's line (jsonl.python_lines of jsonl.parse): the same JSON
 * line, byte for byte, from the same row of export._COLUMNS as a binary COPY sends it (one message a
 * row). The Python functions are the specification and the fallback: export.py chooses between them,
 * and the tests compare the two on rows with every awkward value. A row's words are unsealed here
 * through the caller's AES-GCM object (cryptography's), and format 2 (see sealed.py) is spliced in as
 * it is; format 1 is handed to sealed.fragments.
 *
 * A line is written as UTF-8 into one buffer per row and decoded once at the end: no Python object is
 * made for a column (the export's text arrives as UTF-8, see export.py), and a text column is escaped
 * as json.encoder.encode_basestring does (quote, backslash and the controls below 0x20; everything
 * else, non-ASCII included, as it is). Every length is checked against the message it reads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../_json_text.h"

static PyObject *str_decrypt;

/* The row's columns (export._COLUMNS) by position. */
enum { ID, CREATED_AT, DEVELOPER_ID, SKILL, USER_ID, SESSION_ID, REQUEST_ID, REQUEST_TYPE, INTENT, END_SESSION,
       TRANSACTION, LOCALE, LATENCY_MS, STATUS, REDACTED, CAPTURE_MODE, KEY_ID, SEALED, COLUMNS };

/* jsonl.number: a float as repr() writes it, the non-finite ones by their JSON-ish names. */
static int put_number(Buffer *b, double x) {
    if (x != x) return PUT_LITERAL(b, "NaN");
    if (x == Py_HUGE_VAL) return PUT_LITERAL(b, "Infinity");
    if (x == -Py_HUGE_VAL) return PUT_LITERAL(b, "-Infinity");
    char *text = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL); /* float.__repr__'s own call */
    if (text == NULL) return 0;
    int ok = put(b, text, (Py_ssize_t)strlen(text));
    PyMem_Free(text);
    return ok;
}

/* The fragments of a row without words (sealed.NO_WORDS): every word null. */
static const char no_words[] = "\"slots\":null,\"utterance\":null,\"speech\":null,\"reprompt\":null,\"card\":null,"
                               "\"directives\":null";
static const char v2[] = "{\"v\":2,", error_key[] = ",\"error\":";

/* A row's words into ``said`` and ``error`` (borrowed spans of ``*plain``, which the caller releases): ``key`` is
 * the row's entry of ``opened`` (NULL or None: no words), ``blob`` its sealed bytes (NULL: none). */
static int open_words(PyObject *key, const char *blob, Py_ssize_t n, PyObject *fragments, PyObject **plain,
                      const char **said, Py_ssize_t *said_length, const char **error, Py_ssize_t *error_length) {
    *plain = NULL;
    if (blob == NULL || key == NULL || key == Py_None) {
        *said = no_words, *said_length = (Py_ssize_t)(sizeof(no_words) - 1);
        *error = "null", *error_length = 4;
        return 1;
    }
    if (!PyTuple_Check(key) || PyTuple_GET_SIZE(key) != 2) {
        PyErr_SetString(PyExc_TypeError, "a key is (AESGCM, aad)");
        return 0;
    }
    PyObject *args[4] = {PyTuple_GET_ITEM(key, 0), PyBytes_FromStringAndSize(blob, n < 12 ? n : 12),
                         PyBytes_FromStringAndSize(n < 12 ? blob : blob + 12, n < 12 ? 0 : n - 12),
                         PyTuple_GET_ITEM(key, 1)};
    PyObject *text = NULL;
    if (args[1] != NULL && args[2] != NULL) text = PyObject_VectorcallMethod(str_decrypt, args, 4, NULL);
    Py_XDECREF(args[1]);
    Py_XDECREF(args[2]);
    if (text == NULL) return 0;
    if (!PyBytes_Check(text)) {
        Py_DECREF(text);
        PyErr_SetString(PyExc_TypeError, "decrypt() returned no bytes");
        return 0;
    }
    const char *s = PyBytes_AS_STRING(text);
    Py_ssize_t length = PyBytes_GET_SIZE(text), cut = -1;
    Py_ssize_t v2_length = (Py_ssize_t)(sizeof(v2) - 1), key_length = (Py_ssize_t)(sizeof(error_key) - 1);
    if (length > v2_length && memcmp(s, v2, (size_t)v2_length) == 0) {
        for (Py_ssize_t i = length - key_length; i >= 0; i--) { /* the last ,"error": (see sealed.py) */
            if (s[i] == ',' && memcmp(s + i, error_key, (size_t)key_length) == 0) {
                cut = i;
                break;
            }
        }
    }
    if (cut >= v2_length && cut + key_length < length) { /* format 2, inline: most of the rows of an export */
        *plain = text;
        *said = s + v2_length, *said_length = cut - v2_length;
        *error = s + cut + key_length, *error_length = length - 1 - (cut + key_length);
        return 1;
    }
    PyObject *pieces = PyObject_CallOneArg(fragments, text); /* format 1 (or anything odd): the Python code */
    Py_DECREF(text);
    if (pieces == NULL) return 0;
    if (!PyTuple_Check(pieces) || PyTuple_GET_SIZE(pieces) != 2 || !PyUnicode_Check(PyTuple_GET_ITEM(pieces, 0)) ||
        !PyUnicode_Check(PyTuple_GET_ITEM(pieces, 1))) {
        Py_DECREF(pieces);
        PyErr_SetString(PyExc_TypeError, "fragments() returns two str");
        return 0;
    }
    *plain = pieces;
    *said = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pieces, 0), said_length);
    *error = *said == NULL ? NULL : PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pieces, 1), error_length);
    return *error != NULL;
}

/* One row of a binary COPY: each column's bytes (NULL for SQL NULL) and length. */
typedef struct {
    const char *at[COLUMNS];
    Py_ssize_t length[COLUMNS];
} Row;

static const char signature[] = "PGCOPY\n\377\r\n"; /* and a NUL: 11 bytes */

static int64_t int8_at(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | u[i];
    return (int64_t)v;
}

/* A COPY message's row into ``row``: 1 for a row, 0 for the stream's end (-1 fields), -1 with an exception
 * set for anything but the export's columns. The first message of a COPY starts with the file header. */
static int parse_row(PyObject *message, Row *row) {
    const char *p;
    Py_ssize_t size;
    if (PyBytes_Check(message)) {
        p = PyBytes_AS_STRING(message), size = PyBytes_GET_SIZE(message);
    } else if (PyMemoryView_Check(message) && PyBuffer_IsContiguous(PyMemoryView_GET_BUFFER(message), 'C') &&
               PyMemoryView_GET_BUFFER(message)->itemsize == 1) { /* psycopg's: libpq's own buffer, not copied */
        p = PyMemoryView_GET_BUFFER(message)->buf, size = PyMemoryView_GET_BUFFER(message)->len;
    } else {
        PyErr_SetString(PyExc_TypeError, "a COPY message is bytes or a memoryview of bytes");
        return -1;
    }
    const char *end = p + size;
    if (end - p >= 19 && memcmp(p, signature, sizeof(signature)) == 0) { /* 11 + flags + extension length */
        int64_t extension = (int64_t)(uint32_t)((unsigned char)p[15] << 24 | (unsigned char)p[16] << 16 |
                                                (unsigned char)p[17] << 8 | (unsigned char)p[18]);
        if (extension > end - p - 19) goto bad;
        p += 19 + extension;
    }
    if (end - p < 2) goto bad;
    int fields = (int16_t)((unsigned char)p[0] << 8 | (unsigned char)p[1]);
    p += 2;
    if (fields == -1 && p == end) return 0;
    if (fields != COLUMNS) goto bad;
    for (int i = 0; i < COLUMNS; i++) {
        if (end - p < 4) goto bad;
        int32_t n = (int32_t)((uint32_t)(unsigned char)p[0] << 24 | (uint32_t)(unsigned char)p[1] << 16 |
                              (uint32_t)(unsigned char)p[2] << 8 | (uint32_t)(unsigned char)p[3]);
        p += 4;
        if (n == -1) {
            row->at[i] = NULL, row->length[i] = 0;
            continue;
        }
        if (n < 0 || n > end - p) goto bad;
        row->at[i] = p, row->length[i] = n;
        p += n;
    }
    if (p != end) goto bad;
    if ((row->at[ID] && row->length[ID] != 8) || (row->at[KEY_ID] && row->length[KEY_ID] != 8) ||
        (row->at[LATENCY_MS] && row->length[LATENCY_MS] != 8) || (row->at[END_SESSION] && row->length[END_SESSION] != 1))
        goto bad;
    return 1;
bad:
    PyErr_Format(PyExc_ValueError, "a COPY message that is not a row of the export's %d columns", COLUMNS);
    return -1;
}

/* A text column as a JSON string, NULL as null where ``nullable`` (else the TypeError encode_basestring raises). */
static int put_column(Buffer *b, const Row *row, int column, int nullable) {
    if (row->at[column] == NULL) {
        if (nullable) return PUT_LITERAL(b, "null");
        PyErr_SetString(PyExc_TypeError, "first argument must be a string, not NoneType");
        return 0;
    }
    return put_escaped(b, (const unsigned char *)row->at[column], row->length[column]);
}

/* The row's entry of ``opened`` (borrowed; NULL for none), found by its key id. */
static int find_key(const Row *row, PyObject *opened, PyObject **key) {
    *key = NULL;
    if (row->at[SEALED] == NULL || row->at[KEY_ID] == NULL) return 1;
    PyObject *kid = PyLong_FromLongLong(int8_at(row->at[KEY_ID]));
    if (kid == NULL) return 0;
    *key = PyDict_GetItemWithError(opened, kid);
    Py_DECREF(kid);
    return *key != NULL || !PyErr_Occurred();
}

static int put_line(Buffer *b, const Row *row, PyObject *opened, PyObject *kinds, PyObject *fragments) {
    PyObject *key, *plain = NULL, *kind = NULL, *kind_text = NULL;
    const char *said, *error;
    Py_ssize_t said_length, error_length;
    if (!find_key(row, opened, &key) ||
        !open_words(key, row->at[SEALED], row->length[SEALED], fragments, &plain, &said, &said_length, &error,
                    &error_length))
        return 0;
    char id[24];
    if (row->at[ID] == NULL) {
        Py_XDECREF(plain);
        PyErr_SetString(PyExc_ValueError, "a row without an id");
        return 0;
    }
    int id_length = snprintf(id, sizeof(id), "%lld", (long long)int8_at(row->at[ID]));
    const char *end = row->at[END_SESSION];
    int ok = PUT_LITERAL(b, "{\"id\":") && put(b, id, id_length) &&
             PUT_LITERAL(b, ",\"created_at\":") && put_column(b, row, CREATED_AT, 0) &&
             PUT_LITERAL(b, ",\"developer_id\":") && put_column(b, row, DEVELOPER_ID, 1) &&
             PUT_LITERAL(b, ",\"skill\":") && put_column(b, row, SKILL, 1) &&
             PUT_LITERAL(b, ",\"user_id\":") && put_column(b, row, USER_ID, 0) &&
             PUT_LITERAL(b, ",\"session_id\":") && put_column(b, row, SESSION_ID, 1) &&
             PUT_LITERAL(b, ",\"request_id\":") && put_column(b, row, REQUEST_ID, 1) &&
             PUT_LITERAL(b, ",\"request_type\":") && put_column(b, row, REQUEST_TYPE, 1) &&
             PUT_LITERAL(b, ",\"intent\":") && put_column(b, row, INTENT, 1) &&
             PUT_LITERAL(b, ",") && put(b, said, said_length) && PUT_LITERAL(b, ",\"end_session\":") &&
             (end == NULL ? PUT_LITERAL(b, "null") : *end ? PUT_LITERAL(b, "true") : PUT_LITERAL(b, "false")) &&
             PUT_LITERAL(b, ",\"transaction\":") && /* ``txn or "null"``: the stored JSON text as it is */
             (row->length[TRANSACTION] == 0 ? PUT_LITERAL(b, "null")
                                            : put(b, row->at[TRANSACTION], row->length[TRANSACTION])) &&
             PUT_LITERAL(b, ",\"locale\":") && put_column(b, row, LOCALE, 1) && PUT_LITERAL(b, ",\"latency_ms\":");
    if (ok && row->at[LATENCY_MS] == NULL) {
        ok = PUT_LITERAL(b, "null");
    } else if (ok) {
        union { uint64_t bits; double x; } latency = {(uint64_t)int8_at(row->at[LATENCY_MS])};
        ok = put_number(b, latency.x);
    }
    if (ok && row->at[REDACTED] != NULL) /* ``kinds`` is keyed by the stored text (None for NULL) */
        ok = (kind = PyUnicode_DecodeUTF8(row->at[REDACTED], row->length[REDACTED], "strict")) != NULL;
    ok = ok && PUT_LITERAL(b, ",\"status\":") && put_column(b, row, STATUS, 1) &&
         PUT_LITERAL(b, ",\"error\":") && put(b, error, error_length) &&
         PUT_LITERAL(b, ",\"redacted\":") && (kind_text = PyObject_GetItem(kinds, kind ? kind : Py_None)) != NULL &&
         put_text(b, kind_text) &&
         PUT_LITERAL(b, ",\"capture_mode\":") && put_column(b, row, CAPTURE_MODE, 1) && PUT_LITERAL(b, "}");
    Py_XDECREF(kind);
    Py_XDECREF(kind_text);
    Py_XDECREF(plain);
    return ok;
}

/* lines(messages, opened, kinds, fragments) -> list[str]: see jsonl.python_lines, which this mirrors. */
static PyObject *lines(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyList_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "lines(messages: list, opened: dict, kinds, fragments)");
        return NULL;
    }
    PyObject *messages = args[0], *opened = args[1], *kinds = args[2], *fragments = args[3];
    Py_ssize_t count = PyList_GET_SIZE(messages), made = 0;
    PyObject *out = PyList_New(count);
    if (out == NULL) return NULL;
    Buffer b = {NULL, 0, 0};
    Row row;
    for (Py_ssize_t i = 0; i < count; i++) {
        int got = parse_row(PyList_GET_ITEM(messages, i), &row);
        if (got < 0) goto failed;
        if (got == 0) continue; /* the end of a COPY */
        b.length = 0;
        if (!put_line(&b, &row, opened, kinds, fragments)) goto failed;
        PyObject *line = PyUnicode_DecodeUTF8(b.data, b.length, "strict");
        if (line == NULL) goto failed;
        PyList_SET_ITEM(out, made++, line);
    }
    PyMem_Free(b.data);
    if (made < count && PyList_SetSlice(out, made, count, NULL) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
failed:
    PyMem_Free(b.data);
    Py_DECREF(out);
    return NULL;
}

/* key_ids(messages, opened) -> set[int]: the key ids of the rows with words whose key is not in ``opened``. */
static PyObject *key_ids(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "key_ids(messages: list, opened: dict)");
        return NULL;
    }
    PyObject *out = PySet_New(NULL);
    if (out == NULL) return NULL;
    Row row;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(args[0]); i++) {
        int got = parse_row(PyList_GET_ITEM(args[0], i), &row);
        if (got < 0) goto failed;
        if (got == 0 || row.at[SEALED] == NULL || row.at[KEY_ID] == NULL) continue;
        PyObject *kid = PyLong_FromLongLong(int8_at(row.at[KEY_ID]));
        int known = kid == NULL ? -1 : PyDict_Contains(args[1], kid);
        if (known < 0 || (!known && PySet_Add(out, kid) < 0)) {
            Py_XDECREF(kid);
            goto failed;
        }
        Py_DECREF(kid);
    }
    return out;
failed:
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"lines", (PyCFunction)(void (*)(void))lines, METH_FASTCALL, "jsonl.python_lines of COPY rows, compiled."},
    {"key_ids", (PyCFunction)(void (*)(void))key_ids, METH_FASTCALL, "The unopened key ids of COPY rows."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_jsonl", "The compiled twin of the PostgreSQL export's line.", -1, methods,
};

PyMODINIT_FUNC PyInit__jsonl(void) {
    if ((str_decrypt = PyUnicode_InternFromString("decrypt")) == NULL) return NULL;
    fill_escapes();
    return PyModule_Create(&module_def);
}
