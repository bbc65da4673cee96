/* The compiled twin of a captured row's content text (content.content_of), its digest and its seal.
 *
 * A capture digests its row before it takes the write lock (chain.insert_digest): the content text,
 * then its HMAC; the row's INSERT then seals it with skills_seal(id, digest). The content is the JSON
 * object SQLite's json_object spells for the row, written as UTF-8 straight into one buffer (in
 * Python: a dict, an encoder's list of some fifty small strings, their join, a UTF-8 copy; at 1M
 * rows a capture counted 301,000 -> 254,000 instructions for it, bench/capture_instructions.py
 * --breakdown). Each key comes pre-spelled with its punctuation and each value is escaped in place:
 * a str as json.encoder.encode_basestring does (quote, backslash and the controls below 0x20;
 * everything else, non-ASCII included, as it is), an int in decimal, a float as repr() writes it.
 * Key.digest does the rest of the digest here too, and define_seal the seal (sections below).
 * The Python in content.py and seal.py is the specification and the fallback; the tests compare them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "../_json_text.h"
#include "_loaded.h"

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

/* -- The row's digest: HMAC-SHA256 of the content text under the database's secret -------------------
 *
 * content.row_digest is the specification. In Python a capture's digest cost some 33,000 instructions
 * beside the hashing itself: the shape of the row looked up, its floats' repr()s checked, the
 * content's bytes, two hash objects copied, updated and read, the hex text. Here one call writes the
 * content into a buffer and hashes it with OpenSSL's SHA-256 (the very library hashlib runs, found
 * with dlsym in _hashlib's dependencies: nothing is linked, and no OpenSSL header is needed to build),
 * the key's two padded states hashed once per secret and copied per row.
 */

/* OpenSSL's SHA256_CTX (<openssl/sha.h>: public, 112 bytes, the same in 1.0-3.x, LibreSSL and BoringSSL),
 * in room to spare so that no layout could overrun it. */
typedef union {
    struct { unsigned int h[8], Nl, Nh, data[16], num, md_len; } ctx;
    unsigned char room[256];
} Sha256;

static struct {
    int (*init)(Sha256 *);
    int (*update)(Sha256 *, const void *, size_t);
    int (*final)(unsigned char *, Sha256 *);
} sha;

/* bind_hashing(library): SHA-256 from the libcrypto the loaded shared object `library` (_hashlib) uses. */
static PyObject *bind_hashing(PyObject *self, PyObject *arg) {
    (void)self;
    const char *library = PyUnicode_AsUTF8(arg);
    if (library == NULL) return NULL;
    if (sha.final != NULL) Py_RETURN_NONE;
    void *init, *update, *final; /* from libcrypto, which _hashlib loaded */
    Wanted wanted[] = {{&init, "SHA256_Init"}, {&update, "SHA256_Update"}, {&final, "SHA256_Final"}};
    if (!find_functions(library, wanted, sizeof wanted / sizeof wanted[0])) return NULL;
    sha.init = (int (*)(Sha256 *))init;
    sha.update = (int (*)(Sha256 *, const void *, size_t))update;
    sha.final = (int (*)(unsigned char *, Sha256 *))final;
    Py_RETURN_NONE;
}

#define MAX_COLUMNS 64

/* Key(secret, heads, kinds): a database secret's HMAC states, and the row's columns: heads[i] is
 * column i's name spelled with its quotes and colon (b'"speech":'), kinds[i] its storage type. */
typedef struct {
    PyObject_HEAD
    Sha256 inner, outer;
    PyObject *heads, *kinds;
} Key;

static void put_hex(Py_UCS1 *out, const unsigned char *md, int n) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < n; i++) out[2 * i] = (Py_UCS1)hex[md[i] >> 4], out[2 * i + 1] = (Py_UCS1)hex[md[i] & 15];
}

/* The HMAC of `data` under the key, as 64 hex digits. */
static PyObject *keyed_hex(Key *key, const char *data, Py_ssize_t length) {
    unsigned char md[32];
    Sha256 c = key->inner;
    sha.update(&c, data, (size_t)length);
    sha.final(md, &c);
    c = key->outer;
    sha.update(&c, md, sizeof md);
    sha.final(md, &c);
    PyObject *text = PyUnicode_New(64, 127);
    if (text != NULL) put_hex(PyUnicode_1BYTE_DATA(text), md, 32);
    return text;
}

static PyObject *Key_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    Py_buffer secret;
    PyObject *heads, *kinds;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs)) return PyErr_Format(PyExc_TypeError, "Key(secret, heads, kinds)");
    if (!PyArg_ParseTuple(args, "y*O!O!:Key", &secret, &PyTuple_Type, &heads, &PyTuple_Type, &kinds)) return NULL;
    Key *key = NULL;
    if (sha.final == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Key(): bind_hashing() first");
    } else if (PyTuple_GET_SIZE(heads) != PyTuple_GET_SIZE(kinds) || PyTuple_GET_SIZE(heads) > MAX_COLUMNS) {
        PyErr_Format(PyExc_ValueError, "Key(): one kind a head, at most %d", MAX_COLUMNS);
    } else {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(heads); i++)
            if (!PyBytes_Check(PyTuple_GET_ITEM(heads, i)) || !PyType_Check(PyTuple_GET_ITEM(kinds, i))) {
                PyErr_SetString(PyExc_TypeError, "Key(): heads are bytes, kinds are types");
                goto done;
            }
        key = (Key *)type->tp_alloc(type, 0);
        if (key == NULL) goto done;
        unsigned char block[64] = {0}, inner[64], outer[64];
        if (secret.len > 64) { /* a longer key is hashed first (RFC 2104) */
            Sha256 c;
            sha.init(&c);
            sha.update(&c, secret.buf, (size_t)secret.len);
            sha.final(block, &c);
        } else {
            memcpy(block, secret.buf, (size_t)secret.len);
        }
        for (int i = 0; i < 64; i++) inner[i] = block[i] ^ 0x36, outer[i] = block[i] ^ 0x5c;
        sha.init(&key->inner);
        sha.update(&key->inner, inner, sizeof inner);
        sha.init(&key->outer);
        sha.update(&key->outer, outer, sizeof outer);
        key->heads = Py_NewRef(heads);
        key->kinds = Py_NewRef(kinds);
    }
done:
    PyBuffer_Release(&secret);
    return (PyObject *)key;
}

static void Key_dealloc(Key *key) {
    Py_XDECREF(key->heads);
    Py_XDECREF(key->kinds);
    Py_TYPE(key)->tp_free((PyObject *)key);
}

/* repr(v) when SQLite's "%!.15g" prints v the same (content._exact_float), else NULL (and no error). */
static char *exact_repr(double v) {
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15)) return NULL; /* repr() writes fixed notation in this range */
    char *text = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (text == NULL) return NULL;
    int significant = 0; /* a digit counts from the first non-zero one to the last: strip("0") */
    Py_ssize_t digits = 0, zeros = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '0') {
            zeros += significant;
        } else if (*p >= '1' && *p <= '9') {
            digits += zeros + 1, zeros = 0, significant = 1;
        }
    }
    if (digits > 15) {
        PyMem_Free(text);
        return NULL;
    }
    return text;
}

/* key.digest(values) -> the row's digest, or None where only SQLite can say what its content is. */
static PyObject *Key_digest(Key *key, PyObject *values) {
    if (!PyList_CheckExact(values) && !PyTuple_CheckExact(values))
        return PyErr_Format(PyExc_TypeError, "digest(values): a list or tuple, got %.100s", Py_TYPE(values)->tp_name);
    Py_ssize_t n = PySequence_Fast_GET_SIZE(values);
    if (n != PyTuple_GET_SIZE(key->heads))
        return PyErr_Format(PyExc_ValueError, "a row has %zd values, got %zd", PyTuple_GET_SIZE(key->heads), n);
    PyObject **items = PySequence_Fast_ITEMS(values);
    char *floats[MAX_COLUMNS]; /* each float's repr, made once while its spelling is checked */
    int nfloats = 0;
    PyObject *out = NULL;
    /* First every value's type, as content._shape_of (a value only SQLite spells gives None before any error). */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = items[i], *kind = PyTuple_GET_ITEM(key->kinds, i);
        if (v == Py_None) continue;
        if (kind == (PyObject *)&PyUnicode_Type ? !PyUnicode_Check(v) : (PyObject *)Py_TYPE(v) != kind) goto uncertain;
        if (PyFloat_CheckExact(v)) {
            char *text = exact_repr(PyFloat_AS_DOUBLE(v));
            if (text == NULL) goto uncertain; /* PyOS_double_to_string's MemoryError raised stands */
            floats[nfloats++] = text;
        }
    }
    Buffer b = {NULL, 0, 0};
    int written = 0, f = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = items[i], *head = PyTuple_GET_ITEM(key->heads, i);
        if (v == Py_None) continue;
        if (!put(&b, written++ ? "," : "{", 1) || !put(&b, PyBytes_AS_STRING(head), PyBytes_GET_SIZE(head))) goto failed;
        if (PyFloat_CheckExact(v) ? !put(&b, floats[f], (Py_ssize_t)strlen(floats[f])) : !put_value(&b, v)) goto failed;
        f += PyFloat_CheckExact(v);
    }
    if (written ? put(&b, "}", 1) : PUT_LITERAL(&b, "{}")) out = keyed_hex(key, b.data, b.length);
failed:
    PyMem_Free(b.data);
    for (int k = 0; k < nfloats; k++) PyMem_Free(floats[k]);
    return out;
uncertain:
    for (int k = 0; k < nfloats; k++) PyMem_Free(floats[k]);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

/* key.hmac(data) -> the HMAC of bytes (content.row_digest of a content text's UTF-8). */
static PyObject *Key_hmac(Key *key, PyObject *data) {
    if (!PyBytes_Check(data)) return PyErr_Format(PyExc_TypeError, "hmac(data): bytes, got %.100s", Py_TYPE(data)->tp_name);
    return keyed_hex(key, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data));
}

static PyMethodDef Key_methods[] = {
    {"digest", (PyCFunction)Key_digest, METH_O,
     "digest(values) -> the row's digest (content.row_digest of content.content_utf8), or None where that is None."},
    {"hmac", (PyCFunction)Key_hmac, METH_O, "hmac(data) -> HMAC-SHA256 of the bytes under the key, in hex."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject KeyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "skills_sdk.transcripts.sqlite._content.Key",
    .tp_basicsize = sizeof(Key),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Key(secret, heads, kinds): a database secret's HMAC-SHA256, and the digest of a row's values under it.",
    .tp_new = Key_new,
    .tp_dealloc = (destructor)Key_dealloc,
    .tp_methods = Key_methods,
};

/* -- The seal in SQL: skills_seal(id, digest), seal.seal_sql without a call into Python ----------------
 *
 * A capture's INSERT seals its row with SHA-256 of b"%d|%s" % (id, digest), NULL for a NULL digest.
 * As a Python function, SQLite called back into the interpreter for it (the GIL taken, the id and the
 * digest made objects, the bytes formatted, a hash object, a bytearray: some 11,000 instructions);
 * registered here it is a C function of the driver's own SQLite (found with dlsym, as _jsonl.c does).
 */

static struct {
    int (*create_function)(sqlite3 *, const char *, int, int, void *,
                           void (*)(sqlite3_context *, int, sqlite3_value **),
                           void (*)(sqlite3_context *, int, sqlite3_value **), void (*)(sqlite3_context *),
                           void (*)(void *));
    int (*value_type)(sqlite3_value *);
    sqlite3_int64 (*value_int64)(sqlite3_value *);
    const unsigned char *(*value_text)(sqlite3_value *);
    int (*value_bytes)(sqlite3_value *);
    void (*result_blob)(sqlite3_context *, const void *, int, void (*)(void *));
    void (*result_null)(sqlite3_context *);
    void (*result_error)(sqlite3_context *, const char *, int);
} sq;

static void seal(sqlite3_context *context, int argc, sqlite3_value **argv) {
    (void)argc;
    if (sq.value_type(argv[1]) == SQLITE_NULL) {
        sq.result_null(context);
        return;
    }
    if (sq.value_type(argv[0]) != SQLITE_INTEGER || sq.value_type(argv[1]) != SQLITE_TEXT) {
        sq.result_error(context, "skills_seal(id, digest): an integer id and a text digest", -1);
        return;
    }
    char id[24];
    int length = snprintf(id, sizeof id, "%lld|", (long long)sq.value_int64(argv[0]));
    const unsigned char *digest = sq.value_text(argv[1]);
    unsigned char md[32];
    Sha256 c;
    sha.init(&c);
    sha.update(&c, id, (size_t)length);
    sha.update(&c, digest, (size_t)sq.value_bytes(argv[1]));
    sha.final(md, &c);
    sq.result_blob(context, md, sizeof md, SQLITE_TRANSIENT);
}

/* bind_sqlite(library): the SQLite functions the seal uses, from the driver's loaded shared object. */
static PyObject *bind_sqlite(PyObject *self, PyObject *arg) {
    (void)self;
    const char *library = PyUnicode_AsUTF8(arg);
    if (library == NULL) return NULL;
    if (sq.create_function != NULL) Py_RETURN_NONE;
    Wanted wanted[] = {
        {(void **)&sq.value_type, "sqlite3_value_type"}, {(void **)&sq.value_int64, "sqlite3_value_int64"},
        {(void **)&sq.value_text, "sqlite3_value_text"}, {(void **)&sq.value_bytes, "sqlite3_value_bytes"},
        {(void **)&sq.result_blob, "sqlite3_result_blob"}, {(void **)&sq.result_null, "sqlite3_result_null"},
        {(void **)&sq.result_error, "sqlite3_result_error"},
        {(void **)&sq.create_function, "sqlite3_create_function_v2"}, /* last: set means every one is */
    };
    if (!find_functions(library, wanted, sizeof wanted / sizeof wanted[0])) return NULL;
    Py_RETURN_NONE;
}

/* define_seal(connection): skills_seal on the driver's connection (its sqlite3 handle). */
static PyObject *define_seal(PyObject *self, PyObject *connection) {
    (void)self;
    if (sq.create_function == NULL || sha.final == NULL)
        return PyErr_Format(PyExc_RuntimeError, "define_seal(): bind_hashing() and bind_sqlite() first");
    sqlite3 *db = ((DriverConnection *)connection)->db;
    if (db == NULL) return PyErr_Format(PyExc_ValueError, "define_seal(): the connection is closed");
    if (sq.create_function(db, "skills_seal", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, seal, NULL, NULL, NULL)
        != SQLITE_OK)
        return PyErr_Format(PyExc_OSError, "define_seal(): SQLite refused the function");
    Py_RETURN_NONE;
}

/* -- The row's INSERT: which values it names ---------------------------------------------------------
 *
 * present(values) -> (mask, params): bit i set where values[i] is not None, and those values in order.
 * A capture's INSERT names only the columns its row has a value for (inserts.insert_by_shape): keyed
 * by this mask and given these parameters, it is found without the tuple of 22 types, their hash and
 * an itemgetter's call (some 9,000 instructions in Python).
 */
static PyObject *present(PyObject *self, PyObject *values) {
    (void)self;
    if (!PyList_CheckExact(values) && !PyTuple_CheckExact(values))
        return PyErr_Format(PyExc_TypeError, "present(values): a list or tuple, got %.100s", Py_TYPE(values)->tp_name);
    Py_ssize_t n = PySequence_Fast_GET_SIZE(values), count = 0;
    if (n > MAX_COLUMNS) return PyErr_Format(PyExc_ValueError, "present(values): at most %d values", MAX_COLUMNS);
    PyObject **items = PySequence_Fast_ITEMS(values);
    unsigned long long mask = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (items[i] != Py_None) mask |= 1ULL << i, count++;
    PyObject *params = PyTuple_New(count);
    if (params == NULL) return NULL;
    for (Py_ssize_t i = 0, j = 0; i < n; i++)
        if (items[i] != Py_None) PyTuple_SET_ITEM(params, j++, Py_NewRef(items[i]));
    PyObject *bits = PyLong_FromUnsignedLongLong(mask);
    if (bits == NULL) {
        Py_DECREF(params);
        return NULL;
    }
    PyObject *out = PyTuple_New(2);
    if (out == NULL) {
        Py_DECREF(bits);
        Py_DECREF(params);
        return NULL;
    }
    PyTuple_SET_ITEM(out, 0, bits);
    PyTuple_SET_ITEM(out, 1, params);
    return out;
}

static PyMethodDef methods[] = {
    {"content", (PyCFunction)(void (*)(void))content, METH_FASTCALL, "A row's content text as UTF-8, compiled."},
    {"bind_hashing", bind_hashing, METH_O, "bind_hashing(library): SHA-256 from the libcrypto of the loaded `library`."},
    {"bind_sqlite", bind_sqlite, METH_O, "bind_sqlite(library): the SQLite of the loaded shared object `library`."},
    {"present", present, METH_O, "present(values) -> (mask, params): the values that are not None, and where."},
    {"define_seal", define_seal, METH_O, "define_seal(connection): skills_seal(id, digest) in C on the connection."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_content", "The compiled twin of a captured row's content text, its digest and its seal.", -1, methods,
};

PyMODINIT_FUNC PyInit__content(void) {
    fill_escapes();
    if (PyType_Ready(&KeyType) < 0) return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && PyModule_AddObjectRef(module, "Key", (PyObject *)&KeyType) < 0) Py_CLEAR(module);
    return module;
}
