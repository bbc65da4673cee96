/* The compiled twin of the PostgreSQL export's line (jsonl.python_lines): the same JSON line, byte for
 * byte, from the same row tuple of export._COLUMNS. The Python function is the specification and the
 * fallback: export.py chooses between them, and the tests compare the two on rows with every awkward
 * value. A row's words are unsealed here through the caller's AES-GCM object (cryptography's), and
 * format 2 (see sealed.py) is spliced in as it is; format 1 is handed to sealed.fragments.
 *
 * A line is written as UTF-8 into one buffer per call and decoded once at the end: a str column is
 * read through its cached UTF-8 (the characters themselves for ASCII text) and escaped as
 * json.encoder.encode_basestring does (quote, backslash and the controls below 0x20; everything else,
 * non-ASCII included, as it is). Every index is checked against the length it reads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static PyObject *str_decrypt;

/* The row's columns (export._COLUMNS) by position. */
enum { ID, CREATED_AT, DEVELOPER_ID, SKILL, USER_ID, SESSION_ID, REQUEST_ID, REQUEST_TYPE, INTENT, END_SESSION,
       TRANSACTION, LOCALE, LATENCY_MS, STATUS, REDACTED, CAPTURE_MODE, KEY_ID, SEALED, COLUMNS };

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

/* A str as a JSON string; None as null where ``nullable`` (else a TypeError, as encode_basestring raises). */
static int put_string(Buffer *b, PyObject *value, int nullable) {
    if (value == Py_None && nullable) return PUT_LITERAL(b, "null");
    if (!PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError, "first argument must be a string, not %.80s", Py_TYPE(value)->tp_name);
        return 0;
    }
    Py_ssize_t length;
    const char *text = PyUnicode_AsUTF8AndSize(value, &length);
    return text != NULL && put_escaped(b, (const unsigned char *)text, length);
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

/* export._number: a float as repr() writes it, the non-finite ones by their JSON-ish names; None as null. */
static int put_number(Buffer *b, PyObject *value) {
    if (value == Py_None) return PUT_LITERAL(b, "null");
    if (!PyFloat_CheckExact(value)) return put_text(b, value); /* repr and str agree for ints */
    double x = PyFloat_AS_DOUBLE(value);
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

/* The words of one row into ``said`` and ``error`` (borrowed spans of ``*plain``, which the caller releases). */
static int open_words(PyObject *row, PyObject *opened, PyObject *fragments, PyObject **plain, const char **said,
                      Py_ssize_t *said_length, const char **error, Py_ssize_t *error_length) {
    PyObject *kid = PyTuple_GET_ITEM(row, KEY_ID), *sealed = PyTuple_GET_ITEM(row, SEALED), *key = NULL;
    *plain = NULL;
    if (sealed != Py_None) {
        key = PyDict_GetItemWithError(opened, kid); /* borrowed; NULL when not found */
        if (key == NULL && PyErr_Occurred()) return 0;
    }
    if (key == NULL || key == Py_None) {
        *said = no_words, *said_length = (Py_ssize_t)(sizeof(no_words) - 1);
        *error = "null", *error_length = 4;
        return 1;
    }
    if (!PyTuple_Check(key) || PyTuple_GET_SIZE(key) != 2 || !PyBytes_Check(sealed)) {
        PyErr_SetString(PyExc_TypeError, "a key is (AESGCM, aad) and a sealed value bytes");
        return 0;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(sealed);
    const char *blob = PyBytes_AS_STRING(sealed);
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

static int put_line(Buffer *b, PyObject *row, PyObject *opened, PyObject *kinds, PyObject *fragments) {
    PyObject *const *c = ((PyTupleObject *)row)->ob_item;
    PyObject *plain = NULL, *kind_text = NULL;
    const char *said, *error;
    Py_ssize_t said_length, error_length;
    if (!open_words(row, opened, fragments, &plain, &said, &said_length, &error, &error_length)) return 0;
    PyObject *transaction = c[TRANSACTION], *end = c[END_SESSION];
    int ok = PUT_LITERAL(b, "{\"id\":") && put_text(b, c[ID]) &&
             PUT_LITERAL(b, ",\"created_at\":") && put_string(b, c[CREATED_AT], 0) &&
             PUT_LITERAL(b, ",\"developer_id\":") && put_string(b, c[DEVELOPER_ID], 1) &&
             PUT_LITERAL(b, ",\"skill\":") && put_string(b, c[SKILL], 1) &&
             PUT_LITERAL(b, ",\"user_id\":") && put_string(b, c[USER_ID], 0) &&
             PUT_LITERAL(b, ",\"session_id\":") && put_string(b, c[SESSION_ID], 1) &&
             PUT_LITERAL(b, ",\"request_id\":") && put_string(b, c[REQUEST_ID], 1) &&
             PUT_LITERAL(b, ",\"request_type\":") && put_string(b, c[REQUEST_TYPE], 1) &&
             PUT_LITERAL(b, ",\"intent\":") && put_string(b, c[INTENT], 1) &&
             PUT_LITERAL(b, ",") && put(b, said, said_length) && PUT_LITERAL(b, ",\"end_session\":");
    if (ok) {
        if (end == Py_True) ok = PUT_LITERAL(b, "true");
        else if (end == Py_False) ok = PUT_LITERAL(b, "false");
        else if (end == Py_None) ok = PUT_LITERAL(b, "null");
        else ok = (PyErr_SetObject(PyExc_KeyError, end), 0); /* export._BOOL[end] */
    }
    ok = ok && PUT_LITERAL(b, ",\"transaction\":");
    if (ok) { /* ``txn or "null"``: the stored JSON text as it is */
        int empty = PyObject_Not(transaction);
        ok = empty < 0 ? 0 : empty ? PUT_LITERAL(b, "null") : put_text(b, transaction);
    }
    ok = ok && PUT_LITERAL(b, ",\"locale\":") && put_string(b, c[LOCALE], 1) &&
         PUT_LITERAL(b, ",\"latency_ms\":") && put_number(b, c[LATENCY_MS]) &&
         PUT_LITERAL(b, ",\"status\":") && put_string(b, c[STATUS], 1) &&
         PUT_LITERAL(b, ",\"error\":") && put(b, error, error_length) &&
         PUT_LITERAL(b, ",\"redacted\":") && (kind_text = PyObject_GetItem(kinds, c[REDACTED])) != NULL &&
         put_text(b, kind_text) &&
         PUT_LITERAL(b, ",\"capture_mode\":") && put_string(b, c[CAPTURE_MODE], 1) && PUT_LITERAL(b, "}");
    Py_XDECREF(kind_text);
    Py_XDECREF(plain);
    return ok;
}

/* lines(rows, opened, kinds, fragments) -> list[str]: see jsonl.python_lines, which this mirrors. */
static PyObject *lines(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyList_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "lines(rows: list, opened: dict, kinds, fragments)");
        return NULL;
    }
    PyObject *rows = args[0], *opened = args[1], *kinds = args[2], *fragments = args[3];
    Py_ssize_t count = PyList_GET_SIZE(rows);
    PyObject *out = PyList_New(count);
    if (out == NULL) return NULL;
    Buffer b = {NULL, 0, 0};
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != COLUMNS) {
            PyErr_Format(PyExc_TypeError, "a row is a tuple of %d columns", COLUMNS);
            goto failed;
        }
        b.length = 0;
        if (!put_line(&b, row, opened, kinds, fragments)) goto failed;
        PyObject *line = PyUnicode_DecodeUTF8(b.data, b.length, "strict");
        if (line == NULL) goto failed;
        PyList_SET_ITEM(out, i, line);
    }
    PyMem_Free(b.data);
    return out;
failed:
    PyMem_Free(b.data);
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"lines", (PyCFunction)(void (*)(void))lines, METH_FASTCALL, "jsonl.python_lines' rows, compiled."},
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
