/* The compiled twin of a captured row's content text (content.content_of): the JSON object SQLite's
 * json_object spells for the row, written as UTF-8 straight into one buffer.
 *
 * A capture digests its row before it takes the write lock (chain.insert_digest): the content text,
 * then its HMAC. In Python that text is a dict, an encoder's list of some fifty small strings and
 * their join, then its UTF-8 copy for the hash; here it is one buffer, and a capture at 1M rows counts
 * 301,000 -> 254,000 instructions (bench/capture_instructions.py --breakdown). Each key comes pre-spelled with its
 * punctuation (content._shape makes them once per shape of row) and each value is escaped in place:
 * a str as json.encoder.encode_basestring does (quote, backslash and the controls below 0x20;
 * everything else, non-ASCII included, as it is), an int in decimal, a float as repr() writes it.
 * The Python function is the specification and the fallback; the tests compare the two.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>
#include <string.h>

#include "../_json_text.h"

static int put_value(Buffer *b, PyObject *value) {
    if (PyUnicode_Check(value)) {
        Py_ssize_t length;
        const char *utf8 = PyUnicode_AsUTF8AndSize(value, &length); /* a lone surrogate fails, as str.encode() */
        return utf8 != NULL && put_escaped(b, (const unsigned char *)utf8, length);
    }
    if (PyLong_CheckExact(value)) {
        int overflow;
        long long n = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (n == -1 && PyErr_Occurred()) return 0;
        if (!overflow) {
            char digits[24];
            return put(b, digits, snprintf(digits, sizeof digits, "%lld", n));
        }
        return put_text(b, value); /* past 64 bits: Python's spelling (the driver then refuses to bind it) */
    }
    if (PyFloat_CheckExact(value)) {
        char *text = PyOS_double_to_string(PyFloat_AS_DOUBLE(value), 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
        if (text == NULL) return 0;
        int ok = put(b, text, (Py_ssize_t)strlen(text)); /* float.__repr__'s own call, as json's encoder makes */
        PyMem_Free(text);
        return ok;
    }
    PyErr_Format(PyExc_TypeError, "a row's content holds str, int and float values, got %.100s", Py_TYPE(value)->tp_name);
    return 0;
}

/* content(keys, values) -> bytes: keys[i] (bytes) then values[i], for each value, then keys[-1]. */
static PyObject *content(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyTuple_Check(args[0]) || !PyTuple_Check(args[1])
        || PyTuple_GET_SIZE(args[0]) != PyTuple_GET_SIZE(args[1]) + 1) {
        PyErr_SetString(PyExc_TypeError, "content(keys: tuple[bytes, ...], values: tuple), one more key than values");
        return NULL;
    }
    PyObject *keys = args[0], *values = args[1];
    Buffer b = {NULL, 0, 0};
    Py_ssize_t n = PyTuple_GET_SIZE(values);
    PyObject *out = NULL;
    for (Py_ssize_t i = 0; i <= n; i++) {
        PyObject *key = PyTuple_GET_ITEM(keys, i);
        if (!PyBytes_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "content(): every key is bytes");
            goto done;
        }
        if (!put(&b, PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key))) goto done;
        if (i < n && !put_value(&b, PyTuple_GET_ITEM(values, i))) goto done;
    }
    out = PyBytes_FromStringAndSize(b.data, b.length);
done:
    PyMem_Free(b.data);
    return out;
}

static PyMethodDef methods[] = {
    {"content", (PyCFunction)(void (*)(void))content, METH_FASTCALL, "A row's content text as UTF-8, compiled."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_content", "The compiled twin of a captured row's content text.", -1, methods,
};

PyMODINIT_FUNC PyInit__content(void) {
    fill_escapes();
    return PyModule_Create(&module_def);
}
