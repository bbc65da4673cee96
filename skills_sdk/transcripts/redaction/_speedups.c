/* Compiled twins of the redactor's hot loops: the digit-sequence reader (numbers.sequences) and the
 * card windows (cards.find_cards). The Python functions are the specification and the fallback:
 * speedups.py chooses between them, and the tests compare the two on every fixture line and on
 * generated text. Anything this code does not read itself (a stretch with "double", "hundred",
 * "plus" or a sentence end, a digit run glued to a word, text that is not ASCII) is handed to the
 * Python code, so both paths give the same sequences by construction.
 *
 * Every loop moves forward through the view or through a sequence's groups, each position read a
 * bounded number of times, so the work is linear in the text. Every index is checked against the
 * length it reads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_GAP 4              /* separators between two tokens of a stretch (numbers._MAX_GAP) */
#define MIN_DIGITS 7           /* numbers.MIN_DIGITS */
#define MIN_CARD_DIGITS 13     /* cards.MIN_CARD_DIGITS */
#define MAX_CARD_DIGITS 19
#define MAX_WORDS 64
#define MAX_WORD_LENGTH 16

/* What speedups.bind() hands over: the Python twins to fall back on, and the digit words. */
static PyObject *Sequence_type, *read_stretch, *pure_sequences, *pure_find_cards, *cue_before;
static struct {
    char text[MAX_WORD_LENGTH];
    Py_ssize_t length;
    PyObject *value; /* the digits it stands for ("4"), or NULL for "double", "hundred", "plus" */
} words[MAX_WORDS];
static int word_count;
static PyObject *str_groups, *str_digits, *str_offsets, *str_plus, *str_card;

static int bound(void) {
    if (Sequence_type == NULL) PyErr_SetString(PyExc_RuntimeError, "_speedups.bind() was not called");
    return Sequence_type != NULL;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_lower(char c) { return c >= 'a' && c <= 'z'; }
/* A character of a "\b"-delimited word: what re counts as one in ASCII text. */
static int is_word(char c) { return is_digit(c) || is_lower(c) || (c >= 'A' && c <= 'Z') || c == '_'; }
/* Whether c is one of the characters of set (never the NUL that ends it). */
static int one_of(char c, const char *set) { return c != '\0' && strchr(set, c) != NULL; }
static int is_separator(char c) { return one_of(c, " ,./_()-"); }

/* The digit word of the word run at s[i:] (whole: "\bfour\b"), or -1. Only called at a run's start. */
static int token_word(const char *s, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *end) {
    Py_ssize_t j = i;
    while (j < n && is_word(s[j]) && j - i <= MAX_WORD_LENGTH) j++;
    for (int w = 0; w < word_count; w++) {
        if (words[w].length == j - i && memcmp(words[w].text, s + i, (size_t)(j - i)) == 0) {
            *end = j;
            return w;
        }
    }
    return -1;
}

/* A token of a stretch starting at s[i]: a digit run, or (with digit words) a whole digit word. */
static int token_at(const char *s, Py_ssize_t n, Py_ssize_t i, int with_words, Py_ssize_t *end, int *word) {
    if (i >= n) return 0;
    if (is_digit(s[i])) {
        Py_ssize_t j = i;
        while (j < n && is_digit(s[j])) j++;
        *end = j;
        *word = -1;
        return 1;
    }
    if (!with_words || !is_lower(s[i]) || (i > 0 && is_word(s[i - 1]))) return 0;
    *word = token_word(s, n, i, end);
    return *word >= 0;
}

typedef struct {
    Py_ssize_t start, end;
    int word; /* index into words, or -1 for a digit run */
} Token;

typedef struct {
    Token *items;
    Py_ssize_t count, size;
} Tokens;

static int push_token(Tokens *tokens, Py_ssize_t start, Py_ssize_t end, int word) {
    if (tokens->count == tokens->size) {
        Py_ssize_t size = tokens->size ? tokens->size * 2 : 16;
        Token *items = PyMem_Realloc(tokens->items, (size_t)size * sizeof(Token));
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        tokens->items = items;
        tokens->size = size;
    }
    tokens->items[tokens->count++] = (Token){start, end, word};
    return 0;
}

/* Whether numbers._read_plain reads this stretch: no sentence end, no "double"/"hundred"/"plus", and
 * no digit run that touches a letter. Otherwise numbers._read_stretch does. */
static int plain(const char *s, Py_ssize_t n, Py_ssize_t lo, Py_ssize_t hi, const Tokens *tokens, int with_words) {
    for (Py_ssize_t i = lo; i + 1 < hi; i++) {
        if (s[i] == '.' && (s[i + 1] == ' ' || s[i + 1] == '.')) return 0;
    }
    for (Py_ssize_t t = 0; t < tokens->count; t++) {
        if (tokens->items[t].word >= 0 && words[tokens->items[t].word].value == NULL) return 0;
    }
    if (tokens->items[0].word < 0 && lo > 0 &&
        (is_lower(s[lo - 1]) || (one_of(s[lo - 1], "-_/") && lo > 1 && is_lower(s[lo - 2]))))
        return 0;
    if (hi < n && is_lower(s[hi]) && tokens->items[tokens->count - 1].word < 0) return 0;
    if (with_words && tokens->count > 1) {
        for (Py_ssize_t i = lo; i + 2 < hi; i++) {
            if (is_lower(s[i]) && one_of(s[i + 1], "-_/") && is_digit(s[i + 2])) return 0;
        }
    }
    return 1;
}

/* The Sequence of a plain stretch, appended to out when it holds MIN_DIGITS digits or more. */
static int append_plain(PyObject *view, const char *s, Py_ssize_t lo, const Tokens *tokens, PyObject *out) {
    Py_ssize_t count = 0;
    PyObject *groups = PyList_New(tokens->count), *offsets = PyList_New(tokens->count + 1);
    PyObject *parts = PyList_New(tokens->count), *seq = NULL, *digits = NULL, *empty = NULL;
    int result = -1;
    if (groups == NULL || offsets == NULL || parts == NULL) goto done;
    PyList_SET_ITEM(offsets, 0, PyLong_FromLong(0));
    for (Py_ssize_t t = 0; t < tokens->count; t++) {
        const Token *token = &tokens->items[t];
        PyObject *text;
        if (token->word < 0) {
            text = PyUnicode_Substring(view, token->start, token->end);
        } else {
            text = words[token->word].value;
            Py_INCREF(text);
        }
        if (text == NULL) goto done;
        count += PyUnicode_GET_LENGTH(text);
        PyObject *group = Py_BuildValue("(nnOO)", token->start, token->end, text, token->word < 0 ? Py_False : Py_True);
        PyList_SET_ITEM(parts, t, text);
        if (group == NULL) goto done;
        PyList_SET_ITEM(groups, t, group);
        PyObject *offset = PyLong_FromSsize_t(count);
        if (offset == NULL) goto done;
        PyList_SET_ITEM(offsets, t + 1, offset);
    }
    if (count < MIN_DIGITS) {
        result = 0;
        goto done;
    }
    seq = PyObject_CallFunction(Sequence_type, "n", lo > 0 && s[lo - 1] == '+' ? lo - 1 : (Py_ssize_t)-1);
    empty = PyUnicode_FromStringAndSize("", 0);
    if (seq == NULL || empty == NULL || (digits = PyUnicode_Join(empty, parts)) == NULL) goto done;
    if (PyObject_SetAttr(seq, str_groups, groups) < 0 || PyObject_SetAttr(seq, str_digits, digits) < 0 ||
        PyObject_SetAttr(seq, str_offsets, offsets) < 0)
        goto done;
    result = PyList_Append(out, seq);
done:
    Py_XDECREF(groups);
    Py_XDECREF(offsets);
    Py_XDECREF(parts);
    Py_XDECREF(seq);
    Py_XDECREF(digits);
    Py_XDECREF(empty);
    return result;
}

/* numbers.sequences(view, words): the stretch scan of _STRETCH (or _NUMERAL_STRETCH), _read_plain
 * here and _read_stretch in Python. */
static PyObject *sequences(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "sequences(view: str, words: bool = True)");
        return NULL;
    }
    if (!bound()) return NULL;
    PyObject *view = args[0];
    int with_words = nargs < 2 ? 1 : PyObject_IsTrue(args[1]);
    if (with_words < 0) return NULL;
    if (!PyUnicode_IS_ASCII(view)) return PyObject_Vectorcall(pure_sequences, args, nargs, NULL);
    const char *s = (const char *)PyUnicode_DATA(view);
    Py_ssize_t n = PyUnicode_GET_LENGTH(view);
    PyObject *out = PyList_New(0);
    Tokens tokens = {NULL, 0, 0};
    if (out == NULL) return NULL;
    Py_ssize_t i = 0;
    while (i < n) {
        Py_ssize_t end;
        int word;
        if (!token_at(s, n, i, with_words, &end, &word)) {
            i++;
            continue;
        }
        Py_ssize_t lo = i;
        tokens.count = 0;
        if (push_token(&tokens, i, end, word) < 0) goto error;
        for (;;) { /* (?:[ ,./_()-]{1,4}TOKEN)* */
            Py_ssize_t k = end;
            while (k < n && k - end <= MAX_GAP && is_separator(s[k])) k++;
            Py_ssize_t next;
            if (k == end || k - end > MAX_GAP || !token_at(s, n, k, with_words, &next, &word)) break;
            if (push_token(&tokens, k, next, word) < 0) goto error;
            end = next;
        }
        i = end;
        if (end - lo < MIN_DIGITS) continue;
        if (plain(s, n, lo, end, &tokens, with_words)) {
            if (append_plain(view, s, lo, &tokens, out) < 0) goto error;
            continue;
        }
        PyObject *chunk = PyUnicode_Substring(view, lo, end);
        if (chunk == NULL) goto error;
        PyObject *done = PyObject_CallFunction(read_stretch, "OnnOO", view, lo, end, chunk, out);
        Py_DECREF(chunk);
        if (done == NULL) goto error;
        Py_DECREF(done);
    }
    PyMem_Free(tokens.items);
    return out;
error:
    PyMem_Free(tokens.items);
    Py_DECREF(out);
    return NULL;
}

/* --- cards ----------------------------------------------------------------------------------- */

typedef struct {
    Py_ssize_t start, end; /* in the view */
    int spoken;
} Group;

/* numbers.strong: whether a separator ends a number. */
static int strong(const char *s, Py_ssize_t from, Py_ssize_t to) {
    if (to - from > 1) return 1;
    for (Py_ssize_t i = from; i < to; i++) {
        if (one_of(s[i], ",./()")) return 1;
    }
    return 0;
}

static int same_text(const char *s, Py_ssize_t a0, Py_ssize_t a1, Py_ssize_t b0, Py_ssize_t b1) {
    Py_ssize_t length = a1 > a0 ? a1 - a0 : 0;
    return length == (b1 > b0 ? b1 - b0 : 0) && (length == 0 || memcmp(s + a0, s + b0, (size_t)length) == 0);
}

static int luhn_ok(const char *digits, Py_ssize_t length) {
    static const int doubled[10] = {0, 2, 4, 6, 8, 1, 3, 5, 7, 9};
    int sum = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        int digit = digits[length - 1 - i] - '0';
        sum += i % 2 ? doubled[digit] : digit;
    }
    return sum % 10 == 0;
}

/* cards._CARD_LENGTH_RANK: 16, 15, 14, 19, 13, 17, 18 in that order. */
static int length_rank(Py_ssize_t length) {
    static const int rank[20] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 4, 2, 1, 0, 5, 6, 3};
    return rank[length];
}

/* The groups, digits and offsets of a Sequence as C arrays; 0 when they are not what the readers
 * make (then the Python twin runs). */
static int unpack(PyObject *seq, PyObject **groups_out, Group **groups, Py_ssize_t **offsets, const char **digits,
                  Py_ssize_t *digit_count, Py_ssize_t view_length) {
    PyObject *groups_list = PyObject_GetAttr(seq, str_groups), *offset_list = NULL, *digit_text = NULL;
    int result = 0;
    *groups = NULL;
    *offsets = NULL;
    if (groups_list == NULL) return -1;
    offset_list = PyObject_GetAttr(seq, str_offsets);
    digit_text = PyObject_GetAttr(seq, str_digits);
    if (offset_list == NULL || digit_text == NULL) {
        result = -1;
        goto done;
    }
    Py_ssize_t count = PyList_Check(groups_list) ? PyList_GET_SIZE(groups_list) : -1;
    if (count < 1 || !PyList_Check(offset_list) || PyList_GET_SIZE(offset_list) != count + 1 ||
        !PyUnicode_Check(digit_text) || !PyUnicode_IS_ASCII(digit_text))
        goto done;
    *groups = PyMem_Malloc((size_t)count * sizeof(Group));
    *offsets = PyMem_Malloc((size_t)(count + 1) * sizeof(Py_ssize_t));
    if (*groups == NULL || *offsets == NULL) {
        PyErr_NoMemory();
        result = -1;
        goto done;
    }
    *digit_count = PyUnicode_GET_LENGTH(digit_text);
    for (Py_ssize_t g = 0; g <= count; g++) {
        PyObject *offset = PyList_GET_ITEM(offset_list, g);
        if (!PyLong_CheckExact(offset)) goto done;
        (*offsets)[g] = PyLong_AsSsize_t(offset);
        if ((*offsets)[g] < 0 || (*offsets)[g] > *digit_count || (g && (*offsets)[g] <= (*offsets)[g - 1])) goto done;
    }
    if ((*offsets)[0] != 0 || (*offsets)[count] != *digit_count) goto done;
    for (Py_ssize_t g = 0; g < count; g++) {
        PyObject *group = PyList_GET_ITEM(groups_list, g);
        if (!PyTuple_CheckExact(group) || PyTuple_GET_SIZE(group) != 4) goto done;
        Group *out = &(*groups)[g];
        out->start = PyLong_AsSsize_t(PyTuple_GET_ITEM(group, 0));
        out->end = PyLong_AsSsize_t(PyTuple_GET_ITEM(group, 1));
        out->spoken = PyTuple_GET_ITEM(group, 3) == Py_True;
        if (PyErr_Occurred()) {
            PyErr_Clear();
            goto done;
        }
        if (out->start < 0 || out->end < out->start || out->end > view_length) goto done;
    }
    const char *text = (const char *)PyUnicode_DATA(digit_text);
    for (Py_ssize_t i = 0; i < *digit_count; i++) {
        if (!is_digit(text[i])) goto done;
    }
    *digits = text;
    *groups_out = groups_list;
    Py_DECREF(offset_list);
    Py_DECREF(digit_text); /* still held by seq, which the caller holds */
    return 1;
done:
    PyMem_Free(*groups);
    PyMem_Free(*offsets);
    *groups = NULL;
    *offsets = NULL;
    Py_DECREF(groups_list);
    Py_XDECREF(offset_list);
    Py_XDECREF(digit_text);
    return result;
}

/* cards.find_cards(view, seq, used, spans, cue_words): the same windows, ranks and starts. */
static PyObject *find_cards(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 4 || nargs > 5 || !PyUnicode_Check(args[0]) || !PyList_Check(args[2]) || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "find_cards(view: str, seq, used: list, spans: list, cue_words=True)");
        return NULL;
    }
    if (!bound()) return NULL;
    PyObject *view = args[0], *seq = args[1], *used = args[2], *spans = args[3];
    PyObject *cue_words = nargs > 4 ? args[4] : Py_True;
    PyObject *plus = PyObject_GetAttr(seq, str_plus);
    if (plus == NULL) return NULL;
    Py_ssize_t plus_at = PyLong_AsSsize_t(plus);
    Py_DECREF(plus);
    if (plus_at == -1 && PyErr_Occurred()) return NULL;
    if (plus_at >= 0) Py_RETURN_NONE; /* "+49 (0)30 29468841" is dialled, not charged */
    if (!PyUnicode_IS_ASCII(view)) return PyObject_Vectorcall(pure_find_cards, args, nargs, NULL);
    PyObject *group_list;
    Group *groups;
    Py_ssize_t *offsets, digit_count;
    const char *digits;
    int unpacked = unpack(seq, &group_list, &groups, &offsets, &digits, &digit_count, PyUnicode_GET_LENGTH(view));
    if (unpacked < 0) return NULL;
    if (unpacked == 0) return PyObject_Vectorcall(pure_find_cards, args, nargs, NULL);
    Py_ssize_t count = PyList_GET_SIZE(group_list);
    const char *s = (const char *)PyUnicode_DATA(view);
    char *starts = NULL;
    PyObject *result = NULL;
    if (PyList_GET_SIZE(used) != count) {
        result = PyObject_Vectorcall(pure_find_cards, args, nargs, NULL);
        goto done;
    }
    if (digit_count < MIN_CARD_DIGITS) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    /* A card starts the sequence, or follows a stray spoken word or a strong separator; then
     * the group after a card, or the one after that. */
    starts = PyMem_Calloc((size_t)count + 3, 1);
    if (starts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    starts[0] = 1;
    if (count > 1 && (groups[0].spoken || strong(s, groups[0].end, groups[1].start))) starts[1] = 1;
    int cue = -1;
    Py_ssize_t first = 0;
    while (first < count) {
        if (!starts[first]) {
            first++;
            continue;
        }
        Py_ssize_t best = -1, at = offsets[first];
        int best_rank[3] = {2, 2, 0};
        for (Py_ssize_t end = first + 1; digits[at] != '0' && end <= count && offsets[end] - at <= MAX_CARD_DIGITS; end++) {
            Py_ssize_t length = offsets[end] - at, last = end - 1;
            if (length < MIN_CARD_DIGITS || !luhn_ok(digits + at, length)) continue;
            /* One separator throughout, then ending where the sequence or its separator changes,
             * then the most common card length. */
            int distinct = last > first ? 1 : 0;
            for (Py_ssize_t g = first + 2; g < end && distinct == 1; g++) {
                if (!same_text(s, groups[g - 1].end, groups[g].start, groups[first].end, groups[first + 1].start))
                    distinct = 2;
            }
            int ends = end == count ||
                       (distinct == 1 &&
                        !same_text(s, groups[last].end, groups[end].start, groups[first].end, groups[first + 1].start)) ||
                       (distinct == 0 && strong(s, groups[last].end, groups[end].start));
            int rank[3] = {distinct <= 1 ? 0 : 1, ends ? 0 : 1, length_rank(length)};
            if (rank[0] < best_rank[0] || (rank[0] == best_rank[0] &&
                (rank[1] < best_rank[1] || (rank[1] == best_rank[1] && rank[2] < best_rank[2])))) {
                memcpy(best_rank, rank, sizeof rank);
                best = last;
            }
        }
        if (best < 0) {
            first++;
            continue;
        }
        /* After "tracking", "order", ...: a number the major networks do not issue, or one that runs
         * on past the card, is that number. */
        if (!one_of(digits[at], "23456") || best_rank[1]) {
            if (cue < 0) {
                PyObject *start = PyTuple_GET_ITEM(PyList_GET_ITEM(group_list, 0), 0);
                PyObject *said = PyObject_CallFunctionObjArgs(cue_before, view, start, cue_words, NULL);
                if (said == NULL) goto done;
                cue = PyObject_IsTrue(said);
                Py_DECREF(said);
                if (cue < 0) goto done;
            }
            if (cue) {
                first++;
                continue;
            }
        }
        PyObject *span = PyTuple_Pack(3, PyTuple_GET_ITEM(PyList_GET_ITEM(group_list, first), 0),
                                      PyTuple_GET_ITEM(PyList_GET_ITEM(group_list, best), 1), str_card);
        if (span == NULL || PyList_Append(spans, span) < 0) {
            Py_XDECREF(span);
            goto done;
        }
        Py_DECREF(span);
        for (Py_ssize_t g = first; g <= best; g++) {
            if (PyList_SetItem(used, g, Py_NewRef(Py_True)) < 0) goto done;
        }
        starts[best + 1] = starts[best + 2] = 1;
        first = best + 1;
    }
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(starts);
    PyMem_Free(groups);
    PyMem_Free(offsets);
    Py_DECREF(group_list);
    return result;
}

/* bind(Sequence, read_stretch, sequences, find_cards, cue_before, word_values, other_words): the Python
 * twins, and the digit words from numbers.py, so the words are written down once. */
static PyObject *bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7 || !PyDict_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError,
                        "bind(Sequence, read_stretch, sequences, find_cards, cue_before, word_values: dict, other_words)");
        return NULL;
    }
    PyObject *other = PySequence_Fast(args[6], "other_words must be a sequence of str");
    if (other == NULL) return NULL;
    int count = 0;
    PyObject *key, *value;
    Py_ssize_t position = 0;
    Py_ssize_t total = PyDict_GET_SIZE(args[5]) + PySequence_Fast_GET_SIZE(other);
    for (Py_ssize_t i = 0; i < total; i++) {
        if (i < PyDict_GET_SIZE(args[5])) {
            PyDict_Next(args[5], &position, &key, &value);
        } else {
            key = PySequence_Fast_GET_ITEM(other, i - PyDict_GET_SIZE(args[5]));
            value = NULL;
        }
        Py_ssize_t length;
        const char *text = PyUnicode_Check(key) ? PyUnicode_AsUTF8AndSize(key, &length) : NULL;
        if (text == NULL || length < 1 || length >= MAX_WORD_LENGTH || count == MAX_WORDS ||
            (value != NULL && !PyUnicode_Check(value))) {
            Py_DECREF(other);
            PyErr_SetString(PyExc_ValueError, "digit words must be short str, at most 64 of them");
            return NULL;
        }
        Py_XDECREF(words[count].value);
        memcpy(words[count].text, text, (size_t)length);
        words[count].length = length;
        words[count].value = Py_XNewRef(value);
        count++;
    }
    Py_DECREF(other);
    word_count = count;
    PyObject **slots[] = {&Sequence_type, &read_stretch, &pure_sequences, &pure_find_cards, &cue_before};
    for (int i = 0; i < 5; i++) Py_XSETREF(*slots[i], Py_NewRef(args[i]));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL, "Hand over the Python twins and the digit words."},
    {"sequences", (PyCFunction)(void (*)(void))sequences, METH_FASTCALL, "numbers.sequences, compiled."},
    {"find_cards", (PyCFunction)(void (*)(void))find_cards, METH_FASTCALL, "cards.find_cards, compiled."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_speedups", "Compiled twins of the redactor's digit-sequence reader and card windows.",
    -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    PyObject **names[] = {&str_groups, &str_digits, &str_offsets, &str_plus, &str_card};
    const char *texts[] = {"groups", "digits", "offsets", "plus", "CARD"};
    for (int i = 0; i < 5; i++) {
        if ((*names[i] = PyUnicode_InternFromString(texts[i])) == NULL) return NULL;
    }
    return PyModule_Create(&module_def);
}
