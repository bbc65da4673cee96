/* A SQLite VFS that writes a commit's WAL frames with one system call (skills_sdk.transcripts.sqlite.walvfs).
 *
 * SQLite writes each WAL frame as two pwrite()s, its 24-byte header and then its page: a capture's
 * ten frames are twenty system calls, each paying the kernel's per-write cost (the inode lock, the
 * file's times, the page cache lookups), about 4-5 us apiece on this machine, where the ten frames'
 * bytes cost a fifth of that written at once. This VFS is the default one ("unix") with the WAL
 * file's writes gathered in memory while they follow one another, and written out:
 *
 *   - when the page of a commit frame (a frame header whose "database size after commit" field is
 *     not zero: the WAL file format) has been added: before sqlite3WalFrames() returns and before it
 *     publishes the new frames in the wal-index, so other connections never look for frames that
 *     are not in the file yet, and a process killed after the COMMIT returned has its frames in the
 *     OS (what synchronous=NORMAL promises; FULL still syncs: xSync writes them out first);
 *   - before any other use of the WAL file (a read, a sync, its size, a truncation, a close), and
 *     before any operation on the wal-index (xShmLock, xShmBarrier, xShmUnmap of the database file):
 *     frames a transaction wrote without committing (a spilled cache, then a ROLLBACK) are written
 *     while the writer still holds the WAL's write lock, as SQLite would have written them;
 *   - when a write does not follow the gathered ones, or they reach BUFFER_MAX bytes.
 *
 * A capture's ten frames (41 KB) go out in one pwrite(); a long transaction's in writes of WRITE_MAX.
 * The bytes reach the file in the order SQLite wrote them; only the number of system calls changes.
 *
 * Reads of the WAL are copied from a read-only shared mapping of the file instead of one pread()
 * each. Where two processes write one ledger, each commit of one empties the other's page cache
 * (SQLite drops it whole when the wal-index shows another connection's commit), and the next
 * capture reads its pages again: about 18 frames a request under gunicorn with two workers, each a
 * system call. The mapping shows the page cache's bytes, the same ones pread() returns. Only bytes
 * known to be in the file are copied (its size when last looked at: SQLite reads no frame past
 * the last one committed, and a TRUNCATE checkpoint cuts the file only while it holds every reader
 * off, so no frame a reader may read is cut under it); a read past that size looks at the file's
 * size again, and past the file's end goes to pread() as before. A disk that fails under the mapping
 * raises SIGBUS instead of returning EIO: the copy catches it (a handler that jumps back, chained to
 * any other), gives the mapping up for that file and reads with pread(), which reports the error
 * as SQLite always did. register(library, False) (SKILLS_WAL_READS=pread) keeps every read a pread().
 *
 * The database file and every other file are the default VFS's own, untouched.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sqlite3.h>

#define VFS_NAME "skills-wal"
#define BUFFER_MAX (1 << 20)
/* The most the default VFS writes in one call: its pwrite() takes the length modulo 128 KB
 * (seekAndWriteFd: nBuf &= 0x1ffff), so a longer write would come back short, as a full disk. */
#define WRITE_MAX (0x1ffff & ~4095)

typedef struct WalFile WalFile;

typedef struct DbFile {
    sqlite3_file base;
    sqlite3_file *real;
    WalFile *wal;          /* the same connection's WAL file while it is open */
    const char *name;      /* the name xOpen was given: the WAL's is found from it */
    struct DbFile *next;
} DbFile;

struct WalFile {
    sqlite3_file base;
    sqlite3_file *real;
    DbFile *db;            /* NULL: no database file found, every write goes straight through */
    unsigned char *buf;
    int n, size;
    sqlite3_int64 off;     /* the file offset of buf[0] */
    sqlite3_int64 commit_page; /* the offset of the pending commit frame's page, or -1 */
    int fd;                /* SQLite's own descriptor of the file, to map it; -1: every read a pread() */
    const unsigned char *map;  /* the file mapped read-only (NULL: not yet) */
    sqlite3_int64 map_cap;     /* the mapping's length, which may run past the file's end */
    sqlite3_int64 map_len;     /* the bytes known to be in the file: the only ones copied */
};

/* The default VFS's file object begins with these fields (os_unix.c's unixFile, the same since 3.7):
 * its descriptor is read from there, and used only once fstat() shows it is the file xOpen named. */
typedef struct {
    const sqlite3_io_methods *methods;
    sqlite3_vfs *vfs;
    void *inode;
    int h;
} UnixHead;

/* A mapping grows in steps of this much address space, so a growing WAL is seldom mapped again. */
#define MAP_STEP ((sqlite3_int64)64 << 20)

#define HEAD (((sizeof(DbFile) > sizeof(WalFile) ? sizeof(DbFile) : sizeof(WalFile)) + 15) & ~(size_t)15)

static sqlite3_vfs shim;
static sqlite3_vfs *base_vfs;
static const char *(*filename_database)(const char *);
static int (*file_control)(sqlite3 *, const char *, int, void *);
static DbFile *open_dbs;
static pthread_mutex_t dbs_lock = PTHREAD_MUTEX_INITIALIZER;
static int map_reads;      /* 0: register(..., False) (SKILLS_WAL_READS=pread), or no default "unix" VFS */

static void child_after_fork(void) { pthread_mutex_init(&dbs_lock, NULL); }

#define REAL(f) (((WalFile *)(f))->real)
#define DBREAL(f) (((DbFile *)(f))->real)

/* -- the WAL file ------------------------------------------------------------------------------ */

static int wal_flush(WalFile *p) {
    int rc = SQLITE_OK;
    for (int done = 0; done < p->n && rc == SQLITE_OK; done += WRITE_MAX) {
        int n = p->n - done < WRITE_MAX ? p->n - done : WRITE_MAX;
        rc = p->real->pMethods->xWrite(p->real, p->buf + done, n, p->off + done);
    }
    /* What this connection wrote is in the file: readable from the mapping without asking its size. */
    if (rc == SQLITE_OK && p->n && p->off + p->n > p->map_len && p->off + p->n <= p->map_cap) p->map_len = p->off + p->n;
    p->n = 0;
    return rc;
}

/* -- reads from the mapping, with a failing disk's SIGBUS caught ------------------------------- */

static __thread sigjmp_buf *volatile copying;  /* set while this thread copies from a mapping */
static struct sigaction previous_bus;
static int bus_handled;

static void on_bus(int sig, siginfo_t *info, void *context) {
    if (copying != NULL) siglongjmp(*copying, 1);  /* the copy's own fault: wal_read falls back to pread() */
    if (previous_bus.sa_flags & SA_SIGINFO) {
        previous_bus.sa_sigaction(sig, info, context);
    } else if (previous_bus.sa_handler != SIG_DFL && previous_bus.sa_handler != SIG_IGN) {
        previous_bus.sa_handler(sig);
    } else {
        signal(SIGBUS, SIG_DFL);  /* returning runs the faulting access again: the default action, as without us */
    }
}

/* Installed once, before the first mapping: SA_NODEFER leaves SIGBUS unblocked in the handler, so
 * jumping out of it needs no signal mask restored (no system call per copy). */
static int handle_bus(void) {
    if (bus_handled) return 1;
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_sigaction = on_bus;
    act.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&act.sa_mask);
    if (sigaction(SIGBUS, &act, &previous_bus) != 0) return 0;
    bus_handled = 1;
    return 1;
}

static int copy_mapped(void *to, const unsigned char *from, size_t n) {
    sigjmp_buf here;
    if (sigsetjmp(here, 0)) {
        copying = NULL;
        return 0;
    }
    copying = &here;
    memcpy(to, from, n);
    copying = NULL;
    return 1;
}

static void wal_unmap(WalFile *p) {
    if (p->map) munmap((void *)p->map, (size_t)p->map_cap);
    p->map = NULL;
    p->map_cap = p->map_len = 0;
}

/* Make [0, need) readable from the mapping if the file holds it: 1, else 0 (read it with pread()). */
static int wal_map(WalFile *p, sqlite3_int64 need) {
    struct stat st;
    if (fstat(p->fd, &st) != 0 || st.st_size < need) return 0;
    if (st.st_size > p->map_cap) {
        pthread_mutex_lock(&dbs_lock);
        int handled = handle_bus();
        pthread_mutex_unlock(&dbs_lock);
        if (!handled) {
            p->fd = -1;
            return 0;
        }
        sqlite3_int64 cap = (st.st_size + MAP_STEP - 1) / MAP_STEP * MAP_STEP;
        void *m = mmap(NULL, (size_t)cap, PROT_READ, MAP_SHARED, p->fd, 0);
        if (m == MAP_FAILED) {
            p->fd = -1;
            return 0;
        }
        wal_unmap(p);
        p->map = m;
        p->map_cap = cap;
    }
    p->map_len = st.st_size;
    return 1;
}

static int wal_close(sqlite3_file *f) {
    WalFile *p = (WalFile *)f;
    int rc = wal_flush(p);
    wal_unmap(p);
    p->fd = -1;
    pthread_mutex_lock(&dbs_lock);
    if (p->db && p->db->wal == p) p->db->wal = NULL;
    pthread_mutex_unlock(&dbs_lock);
    int rc2 = p->real->pMethods->xClose(p->real);
    free(p->buf);
    p->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *f, void *z, int amt, sqlite3_int64 off) {
    WalFile *p = (WalFile *)f;
    int rc = wal_flush(p);
    if (rc != SQLITE_OK) return rc;
    if (p->fd >= 0 && amt > 0 && off >= 0 && (off + amt <= p->map_len || wal_map(p, off + amt))) {
        if (copy_mapped(z, p->map + off, (size_t)amt)) return SQLITE_OK;
        wal_unmap(p);  /* the disk failed under the mapping: pread() from now on, which reports it */
        p->fd = -1;
    }
    return REAL(f)->pMethods->xRead(REAL(f), z, amt, off);
}

static int wal_write(sqlite3_file *f, const void *z, int amt, sqlite3_int64 off) {
    WalFile *p = (WalFile *)f;
    if (p->db == NULL) return p->real->pMethods->xWrite(p->real, z, amt, off);
    if (p->n && off == p->off + p->n && p->n + amt <= BUFFER_MAX) {
        /* the next bytes: gathered below */
    } else if (p->n && off >= p->off && off + amt <= p->off + p->n) {
        memcpy(p->buf + (off - p->off), z, (size_t)amt);  /* a frame of this transaction written again */
        return SQLITE_OK;
    } else {
        int rc = wal_flush(p);
        if (rc != SQLITE_OK) return rc;
        if (amt > BUFFER_MAX) return p->real->pMethods->xWrite(p->real, z, amt, off);
        p->off = off;
    }
    if (p->n + amt > p->size) {
        int want = p->size ? p->size : 64 * 1024;
        while (want < p->n + amt) want *= 2;
        if (want > BUFFER_MAX) want = BUFFER_MAX;
        unsigned char *grown = realloc(p->buf, (size_t)want);
        if (grown == NULL) {  /* no memory: what is gathered goes out, and this write with it */
            int rc = wal_flush(p);
            return rc != SQLITE_OK ? rc : p->real->pMethods->xWrite(p->real, z, amt, off);
        }
        p->buf = grown;
        p->size = want;
    }
    memcpy(p->buf + p->n, z, (size_t)amt);
    p->n += amt;
    if (amt == 24) {
        const unsigned char *h = z;  /* a frame header: bytes 4-7, the database's size after a commit */
        if (h[4] | h[5] | h[6] | h[7]) p->commit_page = off + 24;
    } else if (off == p->commit_page) {
        p->commit_page = -1;
        return wal_flush(p);  /* the commit frame is complete: out before SQLite publishes it */
    }
    return SQLITE_OK;
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size) {
    WalFile *p = (WalFile *)f;
    int rc = wal_flush(p);
    if (size < p->map_len) p->map_len = size;  /* before the cut: nothing past it is copied meanwhile */
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int wal_sync(sqlite3_file *f, int flags) {
    int rc = wal_flush((WalFile *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size) {
    int rc = wal_flush((WalFile *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int wal_lock(sqlite3_file *f, int lock) { return REAL(f)->pMethods->xLock(REAL(f), lock); }
static int wal_unlock(sqlite3_file *f, int lock) { return REAL(f)->pMethods->xUnlock(REAL(f), lock); }
static int wal_check_reserved(sqlite3_file *f, int *out) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out); }

static int wal_file_control(sqlite3_file *f, int op, void *arg) {
    int rc = wal_flush((WalFile *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int wal_sector_size(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int wal_device(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }

static const sqlite3_io_methods wal_methods = {
    1, wal_close, wal_read, wal_write, wal_truncate, wal_sync, wal_file_size, wal_lock, wal_unlock,
    wal_check_reserved, wal_file_control, wal_sector_size, wal_device,
};

/* -- the database file: its own, but each wal-index operation writes the WAL's gathered frames first */

static void db_flush_wal(sqlite3_file *f) {
    WalFile *wal = ((DbFile *)f)->wal;
    if (wal && wal->n) wal_flush(wal);  /* frames no commit published: their error cannot matter */
}

static int db_close(sqlite3_file *f) {
    DbFile *p = (DbFile *)f;
    pthread_mutex_lock(&dbs_lock);
    for (DbFile **q = &open_dbs; *q; q = &(*q)->next) {
        if (*q == p) { *q = p->next; break; }
    }
    if (p->wal) { p->wal->db = NULL; p->wal = NULL; }
    pthread_mutex_unlock(&dbs_lock);
    return p->real->pMethods->xClose(p->real);
}

static int db_read(sqlite3_file *f, void *z, int amt, sqlite3_int64 off) { return DBREAL(f)->pMethods->xRead(DBREAL(f), z, amt, off); }
static int db_write(sqlite3_file *f, const void *z, int amt, sqlite3_int64 off) { return DBREAL(f)->pMethods->xWrite(DBREAL(f), z, amt, off); }
static int db_truncate(sqlite3_file *f, sqlite3_int64 size) { return DBREAL(f)->pMethods->xTruncate(DBREAL(f), size); }
static int db_sync(sqlite3_file *f, int flags) { return DBREAL(f)->pMethods->xSync(DBREAL(f), flags); }
static int db_file_size(sqlite3_file *f, sqlite3_int64 *size) { return DBREAL(f)->pMethods->xFileSize(DBREAL(f), size); }
static int db_lock(sqlite3_file *f, int lock) { return DBREAL(f)->pMethods->xLock(DBREAL(f), lock); }
static int db_unlock(sqlite3_file *f, int lock) { return DBREAL(f)->pMethods->xUnlock(DBREAL(f), lock); }
static int db_check_reserved(sqlite3_file *f, int *out) { return DBREAL(f)->pMethods->xCheckReservedLock(DBREAL(f), out); }

static int db_file_control(sqlite3_file *f, int op, void *arg) { return DBREAL(f)->pMethods->xFileControl(DBREAL(f), op, arg); }
static int db_sector_size(sqlite3_file *f) { return DBREAL(f)->pMethods->xSectorSize(DBREAL(f)); }
static int db_device(sqlite3_file *f) { return DBREAL(f)->pMethods->xDeviceCharacteristics(DBREAL(f)); }

static int db_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out) {
    db_flush_wal(f);
    return DBREAL(f)->pMethods->xShmMap(DBREAL(f), page, size, extend, out);
}

static int db_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
    db_flush_wal(f);
    return DBREAL(f)->pMethods->xShmLock(DBREAL(f), offset, n, flags);
}

static void db_shm_barrier(sqlite3_file *f) {
    db_flush_wal(f);
    DBREAL(f)->pMethods->xShmBarrier(DBREAL(f));
}

static int db_shm_unmap(sqlite3_file *f, int delete_flag) {
    db_flush_wal(f);
    return DBREAL(f)->pMethods->xShmUnmap(DBREAL(f), delete_flag);
}

static int db_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out) { return DBREAL(f)->pMethods->xFetch(DBREAL(f), off, amt, out); }
static int db_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) { return DBREAL(f)->pMethods->xUnfetch(DBREAL(f), off, p); }

static const sqlite3_io_methods db_methods = {
    3, db_close, db_read, db_write, db_truncate, db_sync, db_file_size, db_lock, db_unlock,
    db_check_reserved, db_file_control, db_sector_size, db_device,
    db_shm_map, db_shm_lock, db_shm_barrier, db_shm_unmap, db_fetch, db_unfetch,
};

/* -- the VFS: the default one's, with xOpen wrapping the main database and WAL files ------------ */

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags) {
    (void)vfs;
    int wal = (flags & SQLITE_OPEN_WAL) != 0, db = (flags & SQLITE_OPEN_MAIN_DB) != 0 && name != NULL;
    if (!wal && !db) return base_vfs->xOpen(base_vfs, name, f, flags, out_flags);
    sqlite3_file *real = (sqlite3_file *)((char *)f + HEAD);
    memset(f, 0, HEAD);
    int rc = base_vfs->xOpen(base_vfs, name, real, flags, out_flags);
    if (rc != SQLITE_OK) {
        if (real->pMethods) real->pMethods->xClose(real);
        f->pMethods = NULL;
        return rc;
    }
    if (db) {
        DbFile *p = (DbFile *)f;
        p->real = real;
        p->name = name;
        if (real->pMethods->iVersion < 3) {  /* no wal-index to guard: the default file as it is */
            real->pMethods->xClose(real);
            return base_vfs->xOpen(base_vfs, name, f, flags, out_flags);
        }
        pthread_mutex_lock(&dbs_lock);
        p->next = open_dbs;
        open_dbs = p;
        pthread_mutex_unlock(&dbs_lock);
        f->pMethods = &db_methods;
        return SQLITE_OK;
    }
    WalFile *p = (WalFile *)f;
    p->real = real;
    p->commit_page = -1;
    p->fd = -1;
    if (map_reads) {  /* SQLite's descriptor, if it is the file named: it backs the mapping */
        struct stat mine, named;
        int h = ((UnixHead *)real)->h;
        if (h >= 0 && fstat(h, &mine) == 0 && stat(name, &named) == 0 && S_ISREG(mine.st_mode) &&
            mine.st_dev == named.st_dev && mine.st_ino == named.st_ino)
            p->fd = h;
    }
    const char *db_name = filename_database ? filename_database(name) : NULL;
    pthread_mutex_lock(&dbs_lock);
    for (DbFile *d = open_dbs; d && db_name; d = d->next) {
        if (d->name == db_name && d->wal == NULL) {
            d->wal = p;
            p->db = d;
            break;
        }
    }
    pthread_mutex_unlock(&dbs_lock);
    f->pMethods = &wal_methods;
    return SQLITE_OK;
}

static int shim_delete(sqlite3_vfs *v, const char *n, int sync) { (void)v; return base_vfs->xDelete(base_vfs, n, sync); }
static int shim_access(sqlite3_vfs *v, const char *n, int flags, int *out) { (void)v; return base_vfs->xAccess(base_vfs, n, flags, out); }
static int shim_full_pathname(sqlite3_vfs *v, const char *n, int size, char *out) { (void)v; return base_vfs->xFullPathname(base_vfs, n, size, out); }
static void *shim_dl_open(sqlite3_vfs *v, const char *n) { (void)v; return base_vfs->xDlOpen(base_vfs, n); }
static void shim_dl_error(sqlite3_vfs *v, int size, char *out) { (void)v; base_vfs->xDlError(base_vfs, size, out); }
static void (*shim_dl_sym(sqlite3_vfs *v, void *h, const char *s))(void) { (void)v; return base_vfs->xDlSym(base_vfs, h, s); }
static void shim_dl_close(sqlite3_vfs *v, void *h) { (void)v; base_vfs->xDlClose(base_vfs, h); }
static int shim_randomness(sqlite3_vfs *v, int n, char *out) { (void)v; return base_vfs->xRandomness(base_vfs, n, out); }
static int shim_sleep(sqlite3_vfs *v, int us) { (void)v; return base_vfs->xSleep(base_vfs, us); }
static int shim_current_time(sqlite3_vfs *v, double *out) { (void)v; return base_vfs->xCurrentTime(base_vfs, out); }
static int shim_last_error(sqlite3_vfs *v, int n, char *out) { (void)v; return base_vfs->xGetLastError(base_vfs, n, out); }
static int shim_current_time64(sqlite3_vfs *v, sqlite3_int64 *out) { (void)v; return base_vfs->xCurrentTimeInt64(base_vfs, out); }

static PyObject *py_register(PyObject *self, PyObject *args) {
    (void)self;
    const char *library;
    int mapped = 1;
    if (!PyArg_ParseTuple(args, "s|p", &library, &mapped)) return NULL;
    if (base_vfs != NULL) return PyUnicode_FromString(VFS_NAME);
    /* The SQLite the driver uses, already loaded by it: its own functions, never a second copy. */
    void *handle = dlopen(library, RTLD_NOW | RTLD_NOLOAD);
    if (handle == NULL) return PyErr_Format(PyExc_OSError, "%s is not loaded: %s", library, dlerror());
    sqlite3_vfs *(*vfs_find)(const char *) = (sqlite3_vfs * (*)(const char *)) dlsym(handle, "sqlite3_vfs_find");
    int (*vfs_register)(sqlite3_vfs *, int) = (int (*)(sqlite3_vfs *, int))dlsym(handle, "sqlite3_vfs_register");
    filename_database = (const char *(*)(const char *))dlsym(handle, "sqlite3_filename_database");
    file_control = (int (*)(sqlite3 *, const char *, int, void *))dlsym(handle, "sqlite3_file_control");
    dlclose(handle);  /* RTLD_NOLOAD took a reference; the driver keeps its own */
    if (vfs_find == NULL || vfs_register == NULL || filename_database == NULL || file_control == NULL)
        return PyErr_Format(PyExc_OSError, "%s does not export SQLite's VFS functions", library);
    sqlite3_vfs *base = vfs_find(NULL);
    if (base == NULL || base->iVersion < 2) return PyErr_Format(PyExc_OSError, "no default SQLite VFS to wrap");
    shim.iVersion = 2;
    shim.szOsFile = (int)HEAD + base->szOsFile;
    shim.mxPathname = base->mxPathname;
    shim.zName = VFS_NAME;
    shim.xOpen = shim_open;
    shim.xDelete = shim_delete;
    shim.xAccess = shim_access;
    shim.xFullPathname = shim_full_pathname;
    shim.xDlOpen = shim_dl_open;
    shim.xDlError = shim_dl_error;
    shim.xDlSym = shim_dl_sym;
    shim.xDlClose = shim_dl_close;
    shim.xRandomness = shim_randomness;
    shim.xSleep = shim_sleep;
    shim.xCurrentTime = shim_current_time;
    shim.xGetLastError = shim_last_error;
    shim.xCurrentTimeInt64 = shim_current_time64;
    base_vfs = base;
    map_reads = mapped && strcmp(base->zName, "unix") == 0;
    pthread_atfork(NULL, NULL, child_after_fork);
    if (vfs_register(&shim, 0) != SQLITE_OK) {
        base_vfs = NULL;
        return PyErr_Format(PyExc_OSError, "SQLite refused the %s VFS", VFS_NAME);
    }
    return PyUnicode_FromString(VFS_NAME);
}

/* The driver's connection object (CPython's _sqlite3 and pysqlite3 alike): the sqlite3 handle first. */
typedef struct {
    PyObject_HEAD
    sqlite3 *db;
} DriverConnection;

/* sync(connection): fsync the database file and the WAL that `connection` (opened through this VFS,
 * used by the calling thread alone) has open, through SQLite's own descriptors: a descriptor opened
 * and closed beside SQLite's would drop every POSIX lock this process holds on the file. */
static PyObject *py_sync(PyObject *self, PyObject *arg) {
    (void)self;
    sqlite3 *db = ((DriverConnection *)arg)->db;
    if (base_vfs == NULL || db == NULL) Py_RETURN_FALSE;
    sqlite3_file *files[2] = {NULL, NULL};
    if (file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &files[0]) != SQLITE_OK || files[0] == NULL ||
        files[0]->pMethods != &db_methods)
        Py_RETURN_FALSE;  /* not a file of this VFS: the caller's checkpoint syncs it as before */
    if (file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &files[1]) != SQLITE_OK ||
        files[1] == NULL || files[1]->pMethods != &wal_methods)
        files[1] = NULL;  /* no WAL open on this connection yet */
    int rc = SQLITE_OK;
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < 2 && rc == SQLITE_OK; i++) {
        if (files[i]) rc = files[i]->pMethods->xSync(files[i], SQLITE_SYNC_NORMAL);
    }
    Py_END_ALLOW_THREADS
    if (rc != SQLITE_OK) return PyErr_Format(PyExc_OSError, "fsync of the ledger's files failed (SQLite error %d)", rc);
    Py_RETURN_TRUE;
}

static PyMethodDef methods[] = {
    {"sync", py_sync, METH_O,
     "sync(connection) -> bool: fsync its database and WAL files through SQLite's descriptors; False when they are not this VFS's."},
    {"register", py_register, METH_VARARGS,
     "register(library[, mapped]) -> name: register the VFS in the SQLite of the loaded shared object `library` "
     "(idempotent); mapped (default True): the WAL's frames read from a mapping of the file, else one pread() each."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_walvfs", NULL, -1, methods};

PyMODINIT_FUNC PyInit__walvfs(void) { return PyModule_Create(&module); }
