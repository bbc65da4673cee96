/* What the compiled modules that call a loaded library share (sqlite/_jsonl.c, sqlite/_content.c):
 * functions found with dlsym in a shared object the process has already loaded (the driver's SQLite,
 * hashlib's libcrypto), so nothing more is linked and no second copy of either is loaded; and the
 * driver's connection object, whose sqlite3 handle they use.
 */
#ifndef SKILLS_LOADED_H
#define SKILLS_LOADED_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>

/* The driver's connection object (CPython's _sqlite3 and pysqlite3 alike): the sqlite3 handle first. */
typedef struct {
    PyObject_HEAD
    struct sqlite3 *db;
} DriverConnection;

typedef struct {
    void **at;
    const char *name;
} Wanted;

/* Each wanted function from the loaded shared object `library` (or from what it loaded: dlsym searches
 * an object's dependencies too), all or none: 1, or 0 with OSError set and every one left NULL. */
static int find_functions(const char *library, Wanted *wanted, size_t n) {
    void *handle = dlopen(library, RTLD_NOW | RTLD_NOLOAD);
    if (handle == NULL) {
        PyErr_Format(PyExc_OSError, "%s is not loaded: %s", library, dlerror());
        return 0;
    }
    for (size_t k = 0; k < n; k++) {
        *wanted[k].at = dlsym(handle, wanted[k].name);
        if (*wanted[k].at == NULL) {
            for (size_t j = 0; j < n; j++) *wanted[j].at = NULL;
            dlclose(handle);
            PyErr_Format(PyExc_OSError, "%s does not export %s", library, wanted[k].name);
            return 0;
        }
    }
    dlclose(handle); /* RTLD_NOLOAD took a reference; the library's owner keeps its own */
    return 1;
}

#endif
