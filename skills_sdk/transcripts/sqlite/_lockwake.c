/* The write lock's wake-up word (skills_sdk.transcripts.sqlite.filelock): a timed wait for the
 * ledger's lock file without a thread of its own.
 *
 * A blocking flock() cannot time out, so a capture (which waits a second at most) waited for it
 * through a helper thread that blocked in flock() and woke the capture's thread: two wake-ups and
 * the GIL between them, 20-28 us from the holder's release to the capture's return, where a bare
 * blocking flock() takes 4 us. Here the waiter sleeps on a futex in the lock file's first bytes,
 * shared by every process that maps the file, with the futex's own timeout; the holder, having let
 * go of the flock, counts the release in the word and wakes the sleepers. The flock itself stays
 * the lock: the word only says when to try it again. A holder that does not wake (a process of an
 * older release during a deploy, any tool that takes the flock directly) is noticed at the next
 * try, POLL_NS later at most.
 *
 * The word: `released`, bumped after every release, and `waiting`, the sleepers (a waiter killed
 * while it slept leaves it above zero: releases then wake nobody, a system call each, harmless).
 * A waiter reads `released` before it tries the flock, so a release between its try and its sleep
 * changes the word and the futex returns at once: no wake-up is lost.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The longest sleep between two tries: what a holder that does not wake costs a waiter at most. */
#define POLL_NS 1000000LL

typedef struct {
    uint32_t released;
    uint32_t waiting;
} Word;

static long futex(uint32_t *addr, int op, uint32_t val, const struct timespec *timeout) {
    return syscall(SYS_futex, addr, op, val, timeout, NULL, 0);
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static Word *word_of(PyObject *obj, Py_buffer *view) {
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE) < 0) return NULL;
    if (view->len < (Py_ssize_t)sizeof(Word) || ((uintptr_t)view->buf & 3)) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "the wake-up word needs %d aligned writable bytes (the lock file mapped)",
                     (int)sizeof(Word));
        return NULL;
    }
    return (Word *)view->buf;
}

enum { GOT, TIMED_OUT, SLEPT, FAILED };

static int try_flock(int fd, int *err) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return GOT;
    if (errno == EWOULDBLOCK || errno == EINTR) return SLEPT;
    *err = errno;
    return FAILED;
}

/* One round of the wait, without the GIL: a try, a sleep on the word (until a release, a signal or
 * POLL_NS), and a try again at once, so that a release's waiter takes the lock before it takes the GIL. */
static int wait_round(int fd, Word *w, int64_t deadline, int *err) {
    uint32_t seen = __atomic_load_n(&w->released, __ATOMIC_SEQ_CST);
    int rc = try_flock(fd, err);
    if (rc != SLEPT) return rc;
    int64_t left = deadline - now_ns();
    if (left <= 0) return TIMED_OUT;
    if (left > POLL_NS) left = POLL_NS;
    struct timespec t = {(time_t)(left / 1000000000LL), (long)(left % 1000000000LL)};
    futex(&w->released, FUTEX_WAIT, seen, &t);
    return try_flock(fd, err);
}

static PyObject *py_acquire(PyObject *self, PyObject *args) {
    (void)self;
    int fd;
    PyObject *obj;
    long long timeout_ms;
    if (!PyArg_ParseTuple(args, "iOL", &fd, &obj, &timeout_ms)) return NULL;
    Py_buffer view;
    Word *w = word_of(obj, &view);
    if (w == NULL) return NULL;
    int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000LL;
    int rc, err = 0, interrupted = 0;
    __atomic_add_fetch(&w->waiting, 1, __ATOMIC_SEQ_CST);
    do {
        Py_BEGIN_ALLOW_THREADS
        rc = wait_round(fd, w, deadline, &err);
        Py_END_ALLOW_THREADS
        /* Between two rounds, a signal's handler runs (KeyboardInterrupt, a worker's exit): one that came
         * while the thread was not in the futex interrupted nothing, so it is looked for every round. */
        interrupted = rc == SLEPT && PyErr_CheckSignals() < 0;
    } while (rc == SLEPT && !interrupted);
    __atomic_sub_fetch(&w->waiting, 1, __ATOMIC_SEQ_CST);
    PyBuffer_Release(&view);
    if (interrupted) return NULL;
    if (rc == FAILED) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyBool_FromLong(rc == GOT);
}

static PyObject *py_release(PyObject *self, PyObject *args) {
    (void)self;
    int fd;
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "iO", &fd, &obj)) return NULL;
    Py_buffer view;
    Word *w = word_of(obj, &view);
    if (w == NULL) return NULL;
    int rc = flock(fd, LOCK_UN);
    if (rc == 0) {
        __atomic_add_fetch(&w->released, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&w->waiting, __ATOMIC_SEQ_CST) != 0) futex(&w->released, FUTEX_WAKE, INT_MAX, NULL);
    }
    PyBuffer_Release(&view);
    if (rc != 0) return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"acquire", py_acquire, METH_VARARGS,
     "acquire(fd, word, timeout_ms) -> bool: an exclusive flock on fd within timeout_ms, sleeping on word between tries."},
    {"release", py_release, METH_VARARGS,
     "release(fd, word): let go of fd's flock and wake the waiters sleeping on word."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_lockwake", NULL, -1, methods};

PyMODINIT_FUNC PyInit__lockwake(void) { return PyModule_Create(&module); }
