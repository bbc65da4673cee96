/* The SQLite export's lines made in C (skills_sdk.transcripts.sqlite.export): the text SQLite's
 * json_object() makes of a row (queries.json_select), byte for byte, from the stored values.
 *
 * json_object() cost three quarters of an export's CPU: each line built and escaped by SQLite's
 * JSON functions, each JSON column parsed twice (json_valid, json), then handed to Python as one
 * str a row, which the export counted and joined again. Here one call runs one keyset batch of the
 * export's statement through the driver's own SQLite (its functions found with dlsym, as _walvfs.c
 * does; the connection's sqlite3 handle read from the driver's object) without the GIL, writes
 * every row's line into one buffer and returns them as one str, counting each row's user.
 *
 * A row is written here only when its values have the shapes the store writes, where the text
 * is known to be json_object's: text (escaped as json_quote does: quote, backslash and the
 * controls below 0x20), integers, NULL; a JSON column holding minified RFC 8259 JSON (copied,
 * as json() keeps such text); end_session 0/1; a latency between 1e-4 and 1e11 whose 15 digits
 * give it back. Any other row stops the batch before it (`stuck`), and the caller reads that one
 * row through json_object itself: odd rows keep SQLite's text, whatever it is.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "../_json_escape.h"
#include "_loaded.h"

/* How a column's value becomes JSON (export.py's KINDS, in this order). */
enum { PLAIN, JSON_TEXT, REAL, BOOL, KINDS };

/* The SQLite functions used, from the driver's library (never a second copy of SQLite). */
static struct {
    int (*prepare)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*step)(sqlite3_stmt *);
    int (*finalize)(sqlite3_stmt *);
    int (*bind_int64)(sqlite3_stmt *, int, sqlite3_int64);
    int (*bind_double)(sqlite3_stmt *, int, double);
    int (*bind_text)(sqlite3_stmt *, int, const char *, int, void (*)(void *));
    int (*bind_null)(sqlite3_stmt *, int);
    int (*column_count)(sqlite3_stmt *);
    sqlite3_value *(*column_value)(sqlite3_stmt *, int);
    int (*value_type)(sqlite3_value *);
    const unsigned char *(*value_text)(sqlite3_value *);
    int (*value_bytes)(sqlite3_value *);
    sqlite3_int64 (*value_int64)(sqlite3_value *);
    double (*value_double)(sqlite3_value *);
    sqlite3_mutex *(*db_mutex)(sqlite3 *);
    void (*mutex_enter)(sqlite3_mutex *);
    void (*mutex_leave)(sqlite3_mutex *);
    const char *(*errmsg)(sqlite3 *);
} api;


/* A growing byte buffer, used without the GIL (raw allocator); `failed` once memory ran out. */
typedef struct {
    char *data;
    size_t length, size;
    int failed;
} Buffer;

static int reserve(Buffer *b, size_t more) {
    if (b->length + more <= b->size) return 1;
    size_t size = b->size ? b->size : 1 << 16;
    while (size < b->length + more) size *= 2;
    char *data = PyMem_RawRealloc(b->data, size);
    if (data == NULL) {
        b->failed = 1;
        return 0;
    }
    b->data = data;
    b->size = size;
    return 1;
}

static void append(Buffer *b, const void *bytes, size_t n) {
    if (!reserve(b, n)) return;
    memcpy(b->data + b->length, bytes, n);
    b->length += n;
}

/* UTF-8 text as a JSON string, quotes included (json_quote's escapes, _json_escape.h). */
static void append_string(Buffer *b, const unsigned char *s, size_t n) {
    if (!reserve(b, JSON_STRING_ROOM(n))) return;
    b->length = (size_t)(json_string_at(b->data + b->length, s, n) - b->data);
}

/* The decimal digits of v, written backwards so that they end at `end`; their start. */
static char *put_digits(char *end, unsigned long long v) {
    do *--end = (char)('0' + v % 10); while (v /= 10);
    return end;
}

static void append_int(Buffer *b, sqlite3_int64 v) {
    char text[24], *end = text + sizeof text;
    char *start = put_digits(end, v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v);
    if (v < 0) *--start = '-';
    append(b, start, (size_t)(end - start));
}

/* -- minified RFC 8259 JSON, which json() gives back as it is -------------------------------------- */

#define MAX_DEPTH 64

static int skip_string(const unsigned char *s, size_t n, size_t *i) {
    size_t j = *i + 1; /* after the opening quote */
    while (j < n) {
        unsigned char c = s[j];
        if (c == '"') {
            *i = j + 1;
            return 1;
        }
        if (c < 0x20) return 0;
        if (c == '\\') {
            if (++j >= n) return 0;
            if (s[j] == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (j + k >= n || !strchr("0123456789abcdefABCDEF", s[j + k]) || s[j + k] == 0) return 0;
                j += 4;
            } else if (!strchr("\"\\/bfnrt", s[j]) || s[j] == 0) {
                return 0;
            }
        }
        j++;
    }
    return 0;
}

static int skip_digits(const unsigned char *s, size_t n, size_t *i) {
    size_t j = *i;
    while (j < n && s[j] >= '0' && s[j] <= '9') j++;
    if (j == *i) return 0;
    *i = j;
    return 1;
}

static int skip_number(const unsigned char *s, size_t n, size_t *i) {
    size_t j = *i;
    if (s[j] == '-') j++;
    if (j < n && s[j] == '0') j++;
    else if (!skip_digits(s, n, &j)) return 0;
    if (j < n && s[j] == '.' && !(++j, skip_digits(s, n, &j))) return 0;
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        j++;
        if (j < n && (s[j] == '+' || s[j] == '-')) j++;
        if (!skip_digits(s, n, &j)) return 0;
    }
    *i = j;
    return 1;
}

/* 1 when s is one JSON value, RFC 8259, with no whitespace outside its strings and at most MAX_DEPTH deep. */
static int minified_json(const unsigned char *s, size_t n) {
    char open[MAX_DEPTH];
    int depth = 0;
    size_t i = 0;
value:
    if (i >= n) return 0;
    switch (s[i]) {
    case '{':
    case '[':
        if (depth == MAX_DEPTH) return 0;
        open[depth++] = (char)s[i++];
        if (i < n && s[i] == (open[depth - 1] == '{' ? '}' : ']')) {
            depth--, i++;
            goto after;
        }
        if (open[depth - 1] == '[') goto value;
        goto key;
    case '"':
        if (!skip_string(s, n, &i)) return 0;
        goto after;
    case 't':
        if (n - i < 4 || memcmp(s + i, "true", 4)) return 0;
        i += 4;
        goto after;
    case 'f':
        if (n - i < 5 || memcmp(s + i, "false", 5)) return 0;
        i += 5;
        goto after;
    case 'n':
        if (n - i < 4 || memcmp(s + i, "null", 4)) return 0;
        i += 4;
        goto after;
    default:
        if (s[i] != '-' && (s[i] < '0' || s[i] > '9')) return 0;
        if (!skip_number(s, n, &i)) return 0;
        goto after;
    }
key:
    if (i >= n || s[i] != '"' || !skip_string(s, n, &i) || i >= n || s[i] != ':') return 0;
    i++;
    goto value;
after:
    if (depth == 0) return i == n;
    if (i >= n) return 0;
    if (s[i] == ',') {
        i++;
        if (open[depth - 1] == '[') goto value;
        goto key;
    }
    if (s[i] != (open[depth - 1] == '{' ? '}' : ']')) return 0;
    depth--, i++;
    goto after;
}

/* -- one value ---------------------------------------------------------------------------------- */

/* A latency as json_object prints a real (%!.15g: "24.0", "21.04"), where printf's 15 digits give it
 * back exactly and need no exponent; 0 for any other value (the caller's json_object prints it). */
static int append_real(Buffer *b, double x) {
    if (x == 0) {
        append(b, "0.0", 3);
        return 1;
    }
    if (!(fabs(x) >= 1e-4 && fabs(x) < 1e11)) return 0;
    long long thousandths = llround(x * 1000);
    if ((double)thousandths / 1000 == x) {
        /* x is the double nearest a decimal of at most 3 places and 14 digits: that decimal is what
         * 15 digits print (the store's latencies: one printf and one strtod spared a row) */
        unsigned long long u = (unsigned long long)llabs(thousandths);
        char text[32], *end = text + sizeof text - 4;
        char *start = put_digits(end, u / 1000);
        if (x < 0) *--start = '-';
        end[0] = '.', end[1] = (char)('0' + u / 100 % 10), end[2] = (char)('0' + u / 10 % 10), end[3] = (char)('0' + u % 10);
        int places = end[3] != '0' ? 3 : end[2] != '0' ? 2 : 1;
        append(b, start, (size_t)(end + 1 + places - start));
        return 1;
    }
    char text[40];
    int n = snprintf(text, sizeof text, "%.15g", x);
    if (n <= 0 || n >= (int)sizeof text - 2 || strspn(text, "-0123456789.") != (size_t)n) return 0;
    if (strtod(text, NULL) != x) return 0;
    append(b, text, (size_t)n);
    if (!strchr(text, '.')) append(b, ".0", 2);
    return 1;
}

/* The redacted kinds ("CARD,PHONE") as their JSON list, empty parts left out (record.split_kinds). */
static void append_kinds(Buffer *b, const unsigned char *s, size_t n) {
    append(b, "[", 1);
    int first = 1;
    for (size_t i = 0; i <= n;) {
        const unsigned char *comma = memchr(s + i, ',', n - i);
        size_t end = comma ? (size_t)(comma - s) : n;
        if (end > i) {
            if (!first) append(b, ",", 1);
            append_string(b, s + i, end - i);
            first = 0;
        }
        i = end + 1;
    }
    append(b, "]", 1);
}

/* A value of the current row as JSON; 0 when it is not one this file writes. `id` is the row's. */
static int append_value(Buffer *b, sqlite3_value *v, int kind, sqlite3_int64 id, sqlite3_int64 exact_from) {
    int type = api.value_type(v);
    if (type == SQLITE_NULL) {
        if (kind == KINDS) append(b, "[]", 2);
        else append(b, "null", 4);
        return 1;
    }
    if (type == SQLITE_TEXT && kind != BOOL) {
        const unsigned char *s = api.value_text(v);
        size_t n = (size_t)api.value_bytes(v);
        if (kind == JSON_TEXT) {
            if (!minified_json(s, n)) return 0;
            append(b, s, n);
        } else if (kind == KINDS) {
            append_kinds(b, s, n);
        } else {
            append_string(b, s, n);
        }
        return 1;
    }
    if (type == SQLITE_INTEGER && (kind == PLAIN || kind == REAL)) {
        append_int(b, api.value_int64(v));
        return 1;
    }
    if (type == SQLITE_INTEGER && kind == BOOL) {
        if (api.value_int64(v)) append(b, "true", 4);
        else append(b, "false", 5);
        return 1;
    }
    /* a latency from before the store rounded it may need Python's digits (queries.json_select) */
    if (type == SQLITE_FLOAT && kind == REAL && id > exact_from) return append_real(b, api.value_double(v));
    return 0;
}

/* -- the call ----------------------------------------------------------------------------------- */

static int bind(sqlite3_stmt *stmt, PyObject *params) {
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(params); k++) {
        PyObject *v = PyTuple_GET_ITEM(params, k);
        int rc, at = (int)k + 1;
        if (v == Py_None) {
            rc = api.bind_null(stmt, at);
        } else if (PyLong_Check(v)) {
            sqlite3_int64 x = PyLong_AsLongLong(v);
            if (x == -1 && PyErr_Occurred()) return 0;
            rc = api.bind_int64(stmt, at, x);
        } else if (PyFloat_Check(v)) {
            rc = api.bind_double(stmt, at, PyFloat_AS_DOUBLE(v));
        } else if (PyUnicode_Check(v)) {
            Py_ssize_t n;
            const char *s = PyUnicode_AsUTF8AndSize(v, &n);
            if (s == NULL) return 0;
            rc = api.bind_text(stmt, at, s, (int)n, SQLITE_TRANSIENT);
        } else {
            PyErr_Format(PyExc_TypeError, "an export parameter is None, int, float or str, not %.80s",
                         Py_TYPE(v)->tp_name);
            return 0;
        }
        if (rc != SQLITE_OK) {
            PyErr_Format(PyExc_ValueError, "could not bind export parameter %d (SQLite error %d)", at, rc);
            return 0;
        }
    }
    return 1;
}

/* Each row's user id (its bytes, one after another) for the tally made once the GIL is back. */
typedef struct {
    Buffer bytes;
    size_t *ends;
    size_t count, size;
} Users;

static void add_user(Users *u, const unsigned char *s, size_t n) {
    if (u->count == u->size) {
        size_t size = u->size ? u->size * 2 : 1024;
        size_t *ends = PyMem_RawRealloc(u->ends, size * sizeof *ends);
        if (ends == NULL) {
            u->bytes.failed = 1;
            return;
        }
        u->ends = ends, u->size = size;
    }
    append(&u->bytes, s, n);
    u->ends[u->count++] = u->bytes.length;
}

static int tally(Users *u, PyObject *users) {
    const char *data = u->bytes.data;
    for (size_t k = 0, start = 0; k < u->count;) {
        size_t length = u->ends[k] - start, next = u->ends[k], run = 1;
        while (k + run < u->count && u->ends[k + run] - next == length &&
               memcmp(data + start, data + next, length) == 0)
            next = u->ends[k + run++]; /* the same user's rows in a row: counted at once */
        if (length) { /* an empty id is counted for no one (audit.tally_jsonl) */
            PyObject *id = PyUnicode_DecodeUTF8(data + start, (Py_ssize_t)length, NULL);
            if (id == NULL) return 0;
            PyObject *had = PyDict_GetItemWithError(users, id);
            Py_ssize_t before = had ? PyLong_AsSsize_t(had) : 0;
            PyObject *now = PyErr_Occurred() ? NULL : PyLong_FromSsize_t(before + (Py_ssize_t)run);
            int ok = now != NULL && PyDict_SetItem(users, id, now) == 0;
            Py_DECREF(id);
            Py_XDECREF(now);
            if (!ok) return 0;
        }
        k += run;
        start = next;
    }
    return 1;
}

/* lines(connection, sql, params, heads, kinds, user_column, exact_from, users, error)
 *   -> (text, rows, last_created_at, last_id, stuck) */
static PyObject *py_lines(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *connection, *params, *heads, *users, *error;
    const char *sql, *kinds;
    Py_ssize_t sql_length, nkinds;
    int user_column;
    long long exact_from;
    if (!PyArg_ParseTuple(args, "Os#O!O!y#iLO!O", &connection, &sql, &sql_length, &PyTuple_Type, &params,
                          &PyTuple_Type, &heads, &kinds, &nkinds, &user_column, &exact_from, &PyDict_Type, &users,
                          &error))
        return NULL;
    if (api.prepare == NULL) return PyErr_Format(PyExc_RuntimeError, "bind() the driver's SQLite first");
    sqlite3 *db = ((DriverConnection *)connection)->db;
    Py_ssize_t ncols = PyTuple_GET_SIZE(heads);
    if (db == NULL) return PyErr_Format(error, "Cannot operate on a closed database.");
    if (ncols != nkinds || user_column < 0 || user_column >= ncols)
        return PyErr_Format(PyExc_ValueError, "one head and one kind a column, and the user's among them");
    for (Py_ssize_t k = 0; k < ncols; k++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(heads, k))) return PyErr_Format(PyExc_TypeError, "heads are bytes");

    sqlite3_stmt *stmt = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = api.prepare(db, sql, (int)sql_length, &stmt, NULL);
    Py_END_ALLOW_THREADS
    if (rc != SQLITE_OK) return PyErr_Format(error, "%s", api.errmsg(db));
    if (api.column_count(stmt) != ncols + 2 || !bind(stmt, params)) {
        if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "the statement selects the columns and the keyset");
        api.finalize(stmt);
        return NULL;
    }

    Buffer out = {0};
    Users seen = {{0}};
    Py_ssize_t rows = 0;
    int stuck = 0, done = 0;
    Buffer last_at = {0};
    sqlite3_int64 last_id = 0;
    /* The connection's mutex held across each row (SQLite's own calls take it again: it is recursive),
     * so that its values can be read as sqlite3_value objects, each with one call. */
    sqlite3_mutex *mutex = api.db_mutex(db);
    Py_BEGIN_ALLOW_THREADS
    while (!out.failed && !seen.bytes.failed && !last_at.failed) {
        api.mutex_enter(mutex);
        rc = api.step(stmt);
        if (rc != SQLITE_ROW) {
            api.mutex_leave(mutex);
            done = rc == SQLITE_DONE;
            break;
        }
        size_t start = out.length;
        sqlite3_int64 id = api.value_int64(api.column_value(stmt, (int)ncols + 1));
        sqlite3_value *user = NULL;
        for (int i = 0; i < ncols && !stuck; i++) {
            PyObject *head = PyTuple_GET_ITEM(heads, i); /* bytes, immutable: read without the GIL */
            sqlite3_value *v = api.column_value(stmt, i);
            if (i == user_column) user = v;
            append(&out, PyBytes_AS_STRING(head), (size_t)PyBytes_GET_SIZE(head));
            stuck = !append_value(&out, v, kinds[i], id, exact_from);
        }
        if (stuck) {
            api.mutex_leave(mutex);
            out.length = start;
            done = 1;
            break;
        }
        append(&out, "}\n", 2);
        if (api.value_type(user) == SQLITE_TEXT)
            add_user(&seen, api.value_text(user), (size_t)api.value_bytes(user));
        else
            add_user(&seen, (const unsigned char *)"", 0);
        rows++;
        last_id = id;
        sqlite3_value *at = api.column_value(stmt, (int)ncols); /* created_at: NOT NULL text */
        last_at.length = 0;
        if (api.value_type(at) == SQLITE_TEXT) append(&last_at, api.value_text(at), (size_t)api.value_bytes(at));
        api.mutex_leave(mutex);
    }
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    if (out.failed || seen.bytes.failed || last_at.failed) {
        PyErr_NoMemory();
    } else if (!done) {
        PyErr_Format(error, "%s", api.errmsg(db));
    } else if (tally(&seen, users)) {
        PyObject *text = PyUnicode_DecodeUTF8(out.data ? out.data : "", (Py_ssize_t)out.length, NULL);
        if (text != NULL) {
            PyObject *at = rows ? PyUnicode_DecodeUTF8(last_at.data ? last_at.data : "", (Py_ssize_t)last_at.length, NULL)
                                : Py_NewRef(Py_None);
            if (at != NULL)
                result = Py_BuildValue("(NnNLO)", text, rows, at, (long long)last_id, stuck ? Py_True : Py_False);
            else
                Py_DECREF(text);
        }
    }
    api.finalize(stmt);
    PyMem_RawFree(out.data);
    PyMem_RawFree(seen.bytes.data);
    PyMem_RawFree(seen.ends);
    PyMem_RawFree(last_at.data);
    return result;
}

/* bind(library): find the SQLite functions in the driver's loaded library (idempotent). */
static PyObject *py_bind(PyObject *self, PyObject *args) {
    (void)self;
    const char *library;
    if (!PyArg_ParseTuple(args, "s", &library)) return NULL;
    if (api.prepare != NULL) Py_RETURN_NONE;
    Wanted wanted[] = {
        {(void **)&api.step, "sqlite3_step"}, {(void **)&api.finalize, "sqlite3_finalize"},
        {(void **)&api.bind_int64, "sqlite3_bind_int64"}, {(void **)&api.bind_double, "sqlite3_bind_double"},
        {(void **)&api.bind_text, "sqlite3_bind_text"}, {(void **)&api.bind_null, "sqlite3_bind_null"},
        {(void **)&api.column_count, "sqlite3_column_count"}, {(void **)&api.column_value, "sqlite3_column_value"},
        {(void **)&api.value_type, "sqlite3_value_type"}, {(void **)&api.value_text, "sqlite3_value_text"},
        {(void **)&api.value_bytes, "sqlite3_value_bytes"}, {(void **)&api.value_int64, "sqlite3_value_int64"},
        {(void **)&api.value_double, "sqlite3_value_double"}, {(void **)&api.db_mutex, "sqlite3_db_mutex"},
        {(void **)&api.mutex_enter, "sqlite3_mutex_enter"}, {(void **)&api.mutex_leave, "sqlite3_mutex_leave"},
        {(void **)&api.errmsg, "sqlite3_errmsg"},
        {(void **)&api.prepare, "sqlite3_prepare_v2"}, /* last: set means every one is */
    };
    if (!find_functions(library, wanted, sizeof wanted / sizeof wanted[0])) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"bind", py_bind, METH_VARARGS, "bind(library): use the SQLite of the loaded shared object `library`."},
    {"lines", py_lines, METH_VARARGS,
     "lines(connection, sql, params, heads, kinds, user_column, exact_from, users, error) -> "
     "(text, rows, last_created_at, last_id, stuck): one keyset batch's export lines (see export.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_jsonl", NULL, -1, methods};

PyMODINIT_FUNC PyInit__jsonl(void) {
    fill_escapes();
    return PyModule_Create(&module);
}
