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
#define CUE_WINDOW 40          /* numbers._CUE_WINDOW */
#define CUE_WORD_CHARACTERS "abcdefghijklmnopqrstuvwxyz0123456789_" /* numbers._WORD_CHARACTERS */
#define MAX_WORDS 128
#define MAX_WORD_LENGTH 16

/* What speedups.bind() hands over: the Python twins to fall back on, and the digit words. */
static PyObject *Sequence_type, *read_stretch, *pure_survey, *pure_sequences, *pure_find_cards, *pure_find_phones;
/* What stays in Python: the cue words before a number, the unit after it, libphonenumber's verdict. */
static PyObject *cue_before, *unit_after, *phone_checked, *nanpa;
typedef struct {
    char text[MAX_WORD_LENGTH];
    Py_ssize_t length;
    PyObject *value; /* the digits it stands for ("4"), or NULL for "double", "hundred", "plus" */
    int said;        /* how many digits it says (numbers._DIGITS_SAID): "double" 2, "plus" 0 */
    int next;        /* the next word of the table with the same first character and length, or -1 */
} Word;
/* A table's first word of each first character and length (+1; 0 for none): most words of a text are
 * turned away on one lookup, the rest compared with the few words of their shape. */
typedef unsigned char Shapes[256][MAX_WORD_LENGTH];
static Word words[MAX_WORDS], cues[MAX_WORDS]; /* the token words; the cue words ("order") */
static Shapes word_shapes, cue_shapes;
static int word_count, cue_count;
static PyObject *str_groups, *str_digits, *str_offsets, *str_plus, *str_card, *str_phone;

static int bound(void) {
    if (Sequence_type == NULL) PyErr_SetString(PyExc_RuntimeError, "_speedups.bind() was not called");
    return Sequence_type != NULL;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_lower(char c) { return c >= 'a' && c <= 'z'; }
/* Classes of the view's bytes, looked up rather than compared in the loops that read every byte. */
enum { WORD = 1, ANCHOR = 2 };
static unsigned char classes[256];
static void fill_classes(void) {
    for (int c = 0; c < 256; c++) {
        /* a character of a "\\b"-delimited word: what re counts as one in ASCII text */
        int word = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        /* the first character of an e-mail anchor (emails._AT): "@", " at", "(at)", "[at]", "{at}", "<at>" */
        int anchor = c == '@' || c == ' ' || c == '(' || c == '[' || c == '{' || c == '<';
        classes[c] = (unsigned char)((word ? WORD : 0) | (anchor ? ANCHOR : 0));
    }
}
static int is_word(char c) { return classes[(unsigned char)c] & WORD; }
/* Whether c is one of the characters of set (never the NUL that ends it). */
static int one_of(char c, const char *set) {
    for (; *set; set++) {
        if (*set == c) return 1;
    }
    return 0;
}
static int is_separator(char c) {
    switch (c) {
    case ' ': case ',': case '.': case '/': case '_': case '(': case ')': case '-': return 1;
    default: return 0;
    }
}

/* Whether s[i:j] is one of the words of table. */
static const Word *word_in(const Word *table, Shapes shapes, const char *s, Py_ssize_t i, Py_ssize_t j) {
    if (j - i < 1 || j - i >= MAX_WORD_LENGTH) return NULL;
    for (int w = shapes[(unsigned char)s[i]][j - i] - 1; w >= 0; w = table[w].next) {
        if (memcmp(table[w].text, s + i, (size_t)(j - i)) == 0) return &table[w];
    }
    return NULL;
}

/* The digit word of the word run at s[i:] (whole: "\\bfour\\b"), or -1. Only called at a run's start. */
static int token_word(const char *s, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *end) {
    Py_ssize_t j = i;
    while (j < n && is_word(s[j]) && j - i < MAX_WORD_LENGTH) j++;
    const Word *word = word_in(words, word_shapes, s, i, j);
    if (word == NULL) return -1;
    *end = j;
    return (int)(word - words);
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

/* (a, b, c, d) or (a, b, c): tuples built directly, since Py_BuildValue's format costs more than
 * the tuple. A NULL c or d (a failed call before) makes the result NULL. */
static PyObject *tuple_of(Py_ssize_t a, Py_ssize_t b, PyObject *c, PyObject *d) {
    PyObject *tuple = c != NULL ? PyTuple_New(d != NULL ? 4 : 3) : NULL, *first, *second;
    if (tuple == NULL) return NULL;
    if ((first = PyLong_FromSsize_t(a)) == NULL || (second = PyLong_FromSsize_t(b)) == NULL) {
        Py_XDECREF(first);
        Py_DECREF(tuple);
        return NULL;
    }
    PyTuple_SET_ITEM(tuple, 0, first);
    PyTuple_SET_ITEM(tuple, 1, second);
    PyTuple_SET_ITEM(tuple, 2, Py_NewRef(c));
    if (d != NULL) PyTuple_SET_ITEM(tuple, 3, Py_NewRef(d));
    return tuple;
}

/* A Sequence(plus) with its groups, digits and offsets, made without running its Python __init__
 * (which would only set the same four attributes). */
static PyObject *new_sequence(Py_ssize_t plus_at, PyObject *groups, PyObject *digits, PyObject *offsets) {
    PyTypeObject *type = (PyTypeObject *)Sequence_type;
    PyObject *no_args = PyTuple_New(0), *seq = no_args != NULL ? type->tp_new(type, no_args, NULL) : NULL;
    PyObject *plus = PyLong_FromSsize_t(plus_at);
    Py_XDECREF(no_args);
    if (seq == NULL || plus == NULL || PyObject_SetAttr(seq, str_groups, groups) < 0 ||
        PyObject_SetAttr(seq, str_plus, plus) < 0 || PyObject_SetAttr(seq, str_digits, digits) < 0 ||
        PyObject_SetAttr(seq, str_offsets, offsets) < 0) {
        Py_XDECREF(seq);
        Py_XDECREF(plus);
        return NULL;
    }
    Py_DECREF(plus);
    return seq;
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
        PyObject *group = tuple_of(token->start, token->end, text, token->word < 0 ? Py_False : Py_True);
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
    empty = PyUnicode_FromStringAndSize("", 0);
    if (empty == NULL || (digits = PyUnicode_Join(empty, parts)) == NULL) goto done;
    seq = new_sequence(lo > 0 && s[lo - 1] == '+' ? lo - 1 : (Py_ssize_t)-1, groups, digits, offsets);
    if (seq == NULL) goto done;
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

/* numbers.survey(view): (digits, sequence_words(words_of(view), digits), any_cue(words) or False). */
static PyObject *survey(PyObject *module, PyObject *view) {
    if (!PyUnicode_Check(view)) {
        PyErr_SetString(PyExc_TypeError, "survey(view: str)");
        return NULL;
    }
    if (!bound()) return NULL;
    if (!PyUnicode_IS_ASCII(view)) return PyObject_CallOneArg(pure_survey, view);
    const char *s = (const char *)PyUnicode_DATA(view);
    Py_ssize_t n = PyUnicode_GET_LENGTH(view), digit_count = 0, said = 0;
    int token = 0;
    for (Py_ssize_t i = 0; i < n;) { /* words_of: runs of [0-9A-Za-z_] */
        if (!is_word(s[i])) {
            i++;
            continue;
        }
        Py_ssize_t j = i;
        while (j < n && is_word(s[j])) digit_count += is_digit(s[j++]);
        const Word *word = word_in(words, word_shapes, s, i, j);
        if (word != NULL) {
            token = 1;
            said += word->said;
        }
        i = j;
    }
    PyObject *sequence = !token ? (digit_count >= MIN_DIGITS ? Py_False : Py_None)
                                : (digit_count + said >= MIN_DIGITS ? Py_True : Py_None);
    int cue = 0;
    for (Py_ssize_t i = 0; sequence != Py_None && !cue && i < n;) {
        if (!is_word(s[i])) {
            i++;
            continue;
        }
        Py_ssize_t j = i;
        while (j < n && is_word(s[j])) j++;
        cue = word_in(cues, cue_shapes, s, i, j) != NULL;
        i = j;
    }
    PyObject *count = PyLong_FromSsize_t(digit_count), *result;
    if (count == NULL) return NULL;
    result = PyTuple_Pack(3, count, sequence, cue ? Py_True : Py_False);
    Py_DECREF(count);
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

/* --- phones ---------------------------------------------------------------------------------- */

typedef struct {
    PyObject *view, *seq, *group_list, *region, *budget, *spans, *cue_words;
    const char *s, *digits;
    Py_ssize_t n, count;
    Group *groups;
    Py_ssize_t *offsets;
    int nanpa, plus;
    Py_ssize_t plus_at;
    signed char *cues; /* cue_before at each group's start: -1 not asked yet */
} Phones;

static int gap_strong(const Phones *p, Py_ssize_t index) {
    return strong(p->s, p->groups[index - 1].end, p->groups[index].start);
}

/* phones._breaks: a strong separator, or digits written meeting digits said, between groups
 * index - 1 and index. */
static int gap_breaks(const Phones *p, Py_ssize_t index) {
    return p->groups[index - 1].spoken != p->groups[index].spoken || gap_strong(p, index);
}

/* phones._plausible_length */
static int plausible_length(const char *digits, Py_ssize_t length, int nanpa, int plus) {
    if (plus) return length >= 8 && length <= 15;
    if (nanpa && digits[0] != '0') return length == 10 || (length == 11 && digits[0] == '1') || length == 7;
    if (length >= 2 && digits[0] == '0' && digits[1] == '0') return length >= 10 && length <= 17;
    return (digits[0] == '0' && length >= 9 && length <= 13) || length == 10;
}

/* numbers.cue_before, or its shortcut: where the text holds no cue word and the window cuts none,
 * no word before start can be one. */
static int cue_at(Phones *p, Py_ssize_t index) {
    if (p->cues[index] >= 0) return p->cues[index];
    Py_ssize_t start = p->groups[index].start;
    int said = 0;
    if (PyObject_IsTrue(p->cue_words) ||
        (start > CUE_WINDOW && one_of(p->s[start - CUE_WINDOW - 1], CUE_WORD_CHARACTERS)) ||
        (start > 0 && one_of(p->s[start - 1], CUE_WORD_CHARACTERS))) {
        PyObject *answer = PyObject_CallFunction(cue_before, "OnO", p->view, start, p->cue_words);
        if (answer == NULL) return -1;
        said = PyObject_IsTrue(answer);
        Py_DECREF(answer);
        if (said < 0) return -1;
    }
    p->cues[index] = (signed char)said;
    return said;
}

/* phones._said_local: seven digits that are all of their sequence between strong separators, every
 * group a digit word or a repeat (none "hundred" or "thousand": phones._ZERO_WORDS), an exchange
 * not starting with 0 or 1, and not a count up or down by one. */
static int said_local(const Phones *p, Py_ssize_t first, Py_ssize_t end, const char *digits) {
    if ((first > 0 && !gap_strong(p, first)) || (end < p->count && !gap_strong(p, end))) return 0;
    for (Py_ssize_t g = first; g < end; g++) {
        const char *word = p->s + p->groups[g].start;
        Py_ssize_t left = p->n - p->groups[g].start;
        if (!p->groups[g].spoken) return 0;
        if (left >= 4 && (!memcmp(word, "hund", 4) || !memcmp(word, "thou", 4) || !memcmp(word, "taus", 4))) return 0;
    }
    if (digits[0] == '0' || digits[0] == '1') return 0;
    int up = 1, down = 1;
    for (int i = 1; i < 7; i++) {
        up = up && digits[i] - digits[i - 1] == 1;
        down = down && digits[i] - digits[i - 1] == -1;
    }
    return !up && !down;
}

/* phones._is_phone: the shape of groups first to end - 1 here, libphonenumber's verdict in
 * phones.checked. */
static int is_phone(Phones *p, Py_ssize_t first, Py_ssize_t end) {
    const Py_ssize_t *offsets = p->offsets;
    const char *s = p->s, *digits = p->digits + offsets[first];
    Py_ssize_t length = offsets[end] - offsets[first], size = end - first;
    int plus = first == 0 && p->plus;
    if (!plausible_length(digits, length, p->nanpa, plus)) return 0;
    if (length == 7 && (size != 2 || offsets[first + 1] - offsets[first] != 3) && !said_local(p, first, end, digits))
        return 0;
    if (size == 4 && offsets[end] - offsets[end - 1] <= 3) { /* 192.168.95.71 */
        int dotted = 1, short_groups = 1;
        for (Py_ssize_t g = first + 1; g < end; g++) {
            dotted = dotted && p->groups[g].start - p->groups[g - 1].end == 1 && s[p->groups[g - 1].end] == '.';
        }
        for (Py_ssize_t g = first; g < end; g++) short_groups = short_groups && offsets[g + 1] - offsets[g] <= 3;
        if (dotted && short_groups) return 0;
    }
    Py_ssize_t start = p->groups[first].start, stop = p->groups[end - 1].end;
    if (!plus) {
        int bracket = 0;
        /* view[start - 1 : stop], as Python slices it: from the last character when start is 0 */
        for (Py_ssize_t i = start > 0 ? start - 1 : p->n - 1; i < stop; i++) bracket = bracket || s[i] == '(';
        if (!bracket) {
            int cue = cue_at(p, first);
            if (cue != 0) return cue < 0 ? -1 : 0;
        }
    }
    /* "1,234,567,890 dollars" is an amount: every separator "," or ".", every group after the first
     * of three digits, and a unit after it. */
    int thousands = 1;
    for (Py_ssize_t g = first + 1; g < end && thousands; g++) {
        Py_ssize_t from = p->groups[g - 1].end;
        thousands = p->groups[g].start - from == 1 && one_of(s[from], ",.") && offsets[g + 1] - offsets[g] == 3;
    }
    if (thousands) {
        PyObject *unit = PyObject_CallFunction(unit_after, "On", p->view, stop);
        if (unit == NULL) return -1;
        int is_unit = PyObject_IsTrue(unit);
        Py_DECREF(unit);
        if (is_unit != 0) return is_unit < 0 ? -1 : 0;
    }
    PyObject *window = PyUnicode_FromStringAndSize(digits, length);
    if (window == NULL) return -1;
    PyObject *answer = PyObject_CallFunction(phone_checked, "OnnOOOO", p->seq, first, end, window, p->region,
                                             plus ? Py_True : Py_False, p->budget);
    Py_DECREF(window);
    if (answer == NULL) return -1;
    int verdict = PyObject_IsTrue(answer);
    Py_DECREF(answer);
    return verdict;
}

/* phones._phones_in_run over groups lo to hi - 1. */
static int phones_in_run(Phones *p, Py_ssize_t lo, Py_ssize_t hi, char *starts) {
    const Py_ssize_t *offsets = p->offsets;
    memset(starts + lo, 0, (size_t)(hi - lo + 2));
    starts[lo] = starts[lo + 1] = 1;
    if (hi - lo > 1 && p->groups[lo].spoken && gap_strong(p, lo + 1)) starts[lo] = 0;
    for (Py_ssize_t g = lo + 2; g < hi; g++) {
        if (p->groups[g - 1].spoken != p->groups[g].spoken) starts[g] = 1;
    }
    Py_ssize_t first = lo;
    while (first < hi) {
        if (!starts[first]) {
            first++;
            continue;
        }
        Py_ssize_t last = first;
        while (last + 1 <= hi && offsets[last + 1] <= offsets[first] + 15) last++;
        /* phones._bounded(before=True) */
        int bounded = first == lo || offsets[first] - offsets[first - 3 > lo ? first - 3 : lo] <= 2 ||
                      gap_breaks(p, first);
        if (offsets[last] - offsets[first] < MIN_DIGITS || !bounded) {
            first++;
            continue;
        }
        Py_ssize_t found = -1;
        for (Py_ssize_t end = last; end > first && offsets[end] - offsets[first] >= MIN_DIGITS; end--) {
            if (end != hi && offsets[end + 3 < hi ? end + 3 : hi] - offsets[end] > 2 && !gap_breaks(p, end)) continue;
            int phone = is_phone(p, first, end);
            if (phone < 0) return -1;
            if (phone) {
                found = end;
                break;
            }
        }
        if (found < 0) {
            first++;
            continue;
        }
        PyObject *start = PyTuple_GET_ITEM(PyList_GET_ITEM(p->group_list, first), 0);
        PyObject *stop = PyTuple_GET_ITEM(PyList_GET_ITEM(p->group_list, found - 1), 1);
        PyObject *span;
        if (first == 0 && p->plus) {
            span = Py_BuildValue("(nOO)", p->plus_at, stop, str_phone);
        } else if (p->groups[first].start > 0 && p->s[p->groups[first].start - 1] == '(') {
            span = Py_BuildValue("(nOO)", p->groups[first].start - 1, stop, str_phone);
        } else {
            span = PyTuple_Pack(3, start, stop, str_phone);
        }
        if (span == NULL || PyList_Append(p->spans, span) < 0) {
            Py_XDECREF(span);
            return -1;
        }
        Py_DECREF(span);
        starts[found] = starts[found + 1] = 1;
        first = found;
    }
    return 0;
}

/* phones.find_phones(view, seq, used, region, budget, spans, cue_words): each run of groups no card used. */
static PyObject *find_phones(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 6 || nargs > 7 || !PyUnicode_Check(args[0]) || !PyList_Check(args[2]) || !PyUnicode_Check(args[3]) ||
        !PyList_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "find_phones(view: str, seq, used: list, region: str, budget, spans: list, cue_words=True)");
        return NULL;
    }
    if (!bound()) return NULL;
    Phones p = {.view = args[0], .seq = args[1], .region = args[3], .budget = args[4], .spans = args[5],
                .cue_words = nargs > 6 ? args[6] : Py_True};
    PyObject *used = args[2], *result = NULL;
    char *starts = NULL;
    if (!PyUnicode_IS_ASCII(p.view)) return PyObject_Vectorcall(pure_find_phones, args, nargs, NULL);
    Py_ssize_t digit_count;
    int unpacked = unpack(p.seq, &p.group_list, &p.groups, &p.offsets, &p.digits, &digit_count, PyUnicode_GET_LENGTH(p.view));
    if (unpacked <= 0) return unpacked < 0 ? NULL : PyObject_Vectorcall(pure_find_phones, args, nargs, NULL);
    p.count = PyList_GET_SIZE(p.group_list);
    p.s = (const char *)PyUnicode_DATA(p.view);
    p.n = PyUnicode_GET_LENGTH(p.view);
    p.nanpa = PySet_Contains(nanpa, p.region);
    PyObject *plus = PyObject_GetAttr(p.seq, str_plus);
    if (plus == NULL || p.nanpa < 0) {
        Py_XDECREF(plus);
        goto done;
    }
    p.plus_at = PyLong_AsSsize_t(plus);
    Py_DECREF(plus);
    if (p.plus_at == -1 && PyErr_Occurred()) goto done;
    p.plus = p.plus_at >= 0;
    if (PyList_GET_SIZE(used) != p.count) {
        result = PyObject_Vectorcall(pure_find_phones, args, nargs, NULL);
        goto done;
    }
    starts = PyMem_Malloc((size_t)p.count + 3);
    p.cues = PyMem_Malloc((size_t)p.count);
    if (starts == NULL || p.cues == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memset(p.cues, -1, (size_t)p.count);
    for (Py_ssize_t index = 0; index < p.count;) {
        if (PyList_GET_ITEM(used, index) == Py_True) {
            index++;
            continue;
        }
        Py_ssize_t run_end = index;
        while (run_end < p.count && PyList_GET_ITEM(used, run_end) != Py_True) run_end++;
        if (phones_in_run(&p, index, run_end, starts) < 0) goto done;
        memset(p.cues, -1, (size_t)p.count); /* phones._phones_in_run asks afresh for each run */
        index = run_end;
    }
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(starts);
    PyMem_Free(p.cues);
    PyMem_Free(p.groups);
    PyMem_Free(p.offsets);
    Py_DECREF(p.group_list);
    return result;
}

/* --- e-mails (emails.find_emails) ------------------------------------------------------------ */

/* What emails.py hands over at bind time: the words that join a spoken local part ("dot",
 * "underscore") and a domain's labels ("dot", "punkt"), the spoken top-level domains, and the words
 * that make a spoken " at " a place or a time. */
static Word local_joins[MAX_WORDS], domain_joins[MAX_WORDS];
static int local_join_count, domain_join_count;
static PyObject *spoken_tlds, *not_a_local_part, *pure_find_emails, *str_email;

enum { AT_SIGN, SPOKEN_AT, BRACKETED_AT };

static int is_alnum(char c) { return is_lower(c) || is_digit(c); }
/* emails._LOCAL_CHARS and _SPOKEN_LOCAL_CHARS, one character. */
static int local_char(char c, int spoken) {
    return is_alnum(c) || one_of(c, spoken ? "_.-" : "!#$%&'*+/=?^_`{|}~.-");
}

/* emails._AT at i: the anchor's kind and end, or -1. */
static int anchor_at(const char *s, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *end) {
    if (s[i] == '@') {
        *end = i + 1;
        return AT_SIGN;
    }
    if (s[i] == ' ') { /* " at(?= )" */
        if (i + 3 < n && s[i + 1] == 'a' && s[i + 2] == 't' && s[i + 3] == ' ') {
            *end = i + 3;
            return SPOKEN_AT;
        }
        return -1;
    }
    if (!one_of(s[i], "([{<")) return -1;
    Py_ssize_t j = i + 1; /* "( {0,2}at {0,2}[)\]}>]" */
    while (j < n && j - i <= 2 && s[j] == ' ') j++;
    if (j + 1 >= n || s[j] != 'a' || s[j + 1] != 't') return -1;
    Py_ssize_t k = j + 2;
    while (k < n && k - (j + 2) < 2 && s[k] == ' ') k++;
    if (k >= n || !one_of(s[k], ")]}>")) return -1;
    *end = k + 1;
    return BRACKETED_AT;
}

/* A run of 1 to 3 spaces from i, forwards (step 1) or backwards (step -1), followed by a character
 * that is not a space: where that character is, or -1. */
static Py_ssize_t after_spaces(const char *s, Py_ssize_t n, Py_ssize_t i, int step, int least, int most) {
    Py_ssize_t j = i, count = 0;
    while (j >= 0 && j < n && s[j] == ' ' && count <= most) {
        j += step;
        count++;
    }
    return count >= least && count <= most && j >= 0 && j < n ? j : -1;
}

/* Whether one of the words of table ends at s[last] (reading backwards), and where it starts. */
static Py_ssize_t word_ending_at(const Word *table, int count, const char *s, Py_ssize_t last) {
    for (int w = 0; w < count; w++) {
        Py_ssize_t start = last - table[w].length + 1;
        if (start >= 0 && memcmp(table[w].text, s + start, (size_t)table[w].length) == 0) return start;
    }
    return -1;
}

/* emails._LOCAL_REVERSED (or _SPOKEN_LOCAL_REVERSED) matched leftwards from s[last]: where the local
 * part starts, or -1. */
static Py_ssize_t local_start(const char *s, Py_ssize_t last, int spoken) {
    if (!spoken && s[last] == '"') { /* "[^"\r\n]{1,62}" */
        Py_ssize_t i = last - 1;
        while (i >= 0 && last - 1 - i < 62 && !one_of(s[i], "\"\r\n")) i--;
        return i < last - 1 && i >= 0 && s[i] == '"' ? i : -1;
    }
    Py_ssize_t i = last;
    while (i >= 0 && last - i < 64 && local_char(s[i], spoken)) i--;
    if (i == last) return -1;
    Py_ssize_t start = i + 1;
    for (int joined = 0; joined < 4; joined++) { /* (?: {1,3}JOIN {1,3}LOCAL{1,64}){0,4} */
        Py_ssize_t word_last = after_spaces(s, start, start - 1, -1, 1, 3);
        if (word_last < 0) break;
        Py_ssize_t word_first = word_ending_at(local_joins, local_join_count, s, word_last);
        if (word_first < 0) break;
        Py_ssize_t run_last = after_spaces(s, word_first, word_first - 1, -1, 1, 3);
        if (run_last < 0 || !local_char(s[run_last], spoken)) break;
        i = run_last;
        while (i >= 0 && run_last - i < 64 && local_char(s[i], spoken)) i--;
        start = i + 1;
    }
    return start;
}

/* emails._LABEL at i: its end, or -1. */
static Py_ssize_t label_end(const char *s, Py_ssize_t n, Py_ssize_t i) {
    if (i < 0 || i >= n || !is_alnum(s[i])) return -1;
    Py_ssize_t end = i + 1; /* [a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])? */
    for (Py_ssize_t j = i + 1; j < n && j - i <= 62 && (is_alnum(s[j]) || s[j] == '-'); j++) {
        if (is_alnum(s[j])) end = j + 1;
    }
    return end;
}

/* Whether one of the words of table starts at s[i], and where it ends. */
static Py_ssize_t word_starting_at(const Word *table, int count, const char *s, Py_ssize_t n, Py_ssize_t i) {
    for (int w = 0; w < count; w++) {
        if (i + table[w].length <= n && memcmp(table[w].text, s + i, (size_t)table[w].length) == 0) return i + table[w].length;
    }
    return -1;
}

/* One of emails._DOMAIN_JOIN at i: where the next label starts, or -1. */
static Py_ssize_t domain_join(const char *s, Py_ssize_t n, Py_ssize_t i) {
    if (i >= n) return -1;
    if (s[i] == '.') return i + 1;
    Py_ssize_t word = after_spaces(s, n, i, 1, 1, 3); /* " {1,3}(?:dot|punkt) {1,3}" */
    if (word >= 0 && !one_of(s[word], "([")) {
        Py_ssize_t end = word_starting_at(domain_joins, domain_join_count, s, n, word);
        return end < 0 ? -1 : after_spaces(s, n, end, 1, 1, 3);
    }
    Py_ssize_t open = s[i] == ' ' ? after_spaces(s, n, i, 1, 1, 2) : i; /* " {0,2}[(\[](?:dot|punkt)[)\]] {0,2}" */
    if (open < 0 || !one_of(s[open], "([")) return -1;
    Py_ssize_t close = word_starting_at(domain_joins, domain_join_count, s, n, open + 1);
    if (close < 0 || close >= n || !one_of(s[close], ")]")) return -1;
    Py_ssize_t next = close + 1;
    if (next < n && s[next] == ' ') return after_spaces(s, n, next, 1, 1, 2);
    return next;
}

/* Whether s[i:j] is in the Python set (1), is not (0), or an error (-1). */
static int text_in(PyObject *set, const char *s, Py_ssize_t i, Py_ssize_t j) {
    PyObject *text = PyUnicode_FromStringAndSize(s + i, j - i);
    if (text == NULL) return -1;
    int found = PySet_Contains(set, text);
    Py_DECREF(text);
    return found;
}

/* emails.find_emails(view, spans): every anchor, the same refusals in the same order. */
static PyObject *find_emails(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "find_emails(view: str, spans: list)");
        return NULL;
    }
    if (!bound()) return NULL;
    if (!PyUnicode_IS_ASCII(args[0])) return PyObject_Vectorcall(pure_find_emails, args, nargs, NULL);
    const char *s = (const char *)PyUnicode_DATA(args[0]);
    Py_ssize_t n = PyUnicode_GET_LENGTH(args[0]), taken_to = 0, next = 0;
    for (Py_ssize_t i = 0; i < n; i = next) {
        Py_ssize_t at_end;
        while (i < n && !(classes[(unsigned char)s[i]] & ANCHOR)) i++;
        if (i == n) break;
        int kind = anchor_at(s, n, i, &at_end);
        if (kind < 0) {
            next = i + 1;
            continue;
        }
        next = at_end;
        Py_ssize_t at_start = i;
        for (int k = 0; k < 2; k++) {
            if (at_start > 0 && s[at_start - 1] == ' ') at_start--;
            if (at_end < n && s[at_end] == ' ') at_end++;
        }
        if (at_start < taken_to || at_start == 0 || at_end == n) continue;
        if (!(local_char(s[at_start - 1], 0) || s[at_start - 1] == '"') || !is_alnum(s[at_end])) continue;
        Py_ssize_t local = local_start(s, at_start - 1, kind == SPOKEN_AT);
        if (local < 0) continue;
        Py_ssize_t labels = 1, tld = at_end, end = label_end(s, n, at_end);
        for (int joined = 0; joined < 8; joined++) {
            Py_ssize_t label = domain_join(s, n, end), label_to = label_end(s, n, label);
            if (label_to < 0) break;
            labels++;
            tld = label;
            end = label_to;
        }
        int alphabetic = end - tld >= 1;
        for (Py_ssize_t j = tld; j < end; j++) alphabetic = alphabetic && is_lower(s[j]);
        if (kind == AT_SIGN) {
            if (labels == 1 ? at_end - at_start != 1 : !alphabetic || end - tld < 2) continue;
        } else if (kind == BRACKETED_AT) {
            if (labels == 1 || !alphabetic) continue;
        } else {
            if (labels == 1) continue;
            int known = text_in(spoken_tlds, s, tld, end), refused = known > 0 ? text_in(not_a_local_part, s, local, at_start) : 0;
            if (known < 0 || refused < 0) return NULL;
            if (!known || refused) continue;
        }
        PyObject *span = tuple_of(local, end, str_email, NULL);
        if (span == NULL || PyList_Append(args[1], span) < 0) {
            Py_XDECREF(span);
            return NULL;
        }
        Py_DECREF(span);
        taken_to = end;
    }
    Py_RETURN_NONE;
}

/* --- the view (text.view) ------------------------------------------------------------------- */

/* text._VIEW, the table str.translate reads for text that is not ASCII, and what it said for each
 * character of the Basic Multilingual Plane so far (-1: not asked yet). */
static PyObject *view_table;
static signed char seen_view[65536];

/* The view character of c (from the table, which fills itself in), or -1 with an exception set. */
static int view_char(Py_UCS4 c) {
    if (c < 65536 && seen_view[c] >= 0) return seen_view[c];
    PyObject *key = PyLong_FromUnsignedLong(c), *value = key != NULL ? PyObject_GetItem(view_table, key) : NULL;
    Py_XDECREF(key);
    if (value == NULL) return -1;
    long code = PyLong_Check(value) ? PyLong_AsLong(value) : -1;
    Py_DECREF(value);
    if (code < 0 || code > 127) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "text._VIEW maps U+%04X outside ASCII", (unsigned int)c);
        return -1;
    }
    if (c < 65536) seen_view[c] = (signed char)code;
    return (int)code;
}

/* text.view(text): the same length, ASCII lower case, every other character as the table says. */
static PyObject *view(PyObject *module, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "view(text: str)");
        return NULL;
    }
    if (!bound()) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *out = PyUnicode_New(n, 127);
    if (out == NULL) return NULL;
    Py_UCS1 *into = PyUnicode_1BYTE_DATA(out);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 128) {  /* text._VIEW: ASCII lower case, and tab, line feed, ... as a space */
            into[i] = (Py_UCS1)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c >= '\t' && c <= '\r' ? ' ' : c);
            continue;
        }
        int code = view_char(c);
        if (code < 0) {
            Py_DECREF(out);
            return NULL;
        }
        into[i] = (Py_UCS1)code;
    }
    return out;
}

/* Copies the words of a dict into a table: str keys of 1 to MAX_WORD_LENGTH - 1 characters; and
 * indexes them by shape, where shapes is given. */
static int word_table(PyObject *dict, Word *table, int *count, int with_values, Shapes shapes) {
    PyObject *key, *value;
    Py_ssize_t position = 0;
    *count = 0;
    if (shapes != NULL) memset(shapes, 0, sizeof(Shapes));
    while (PyDict_Next(dict, &position, &key, &value)) {
        Py_ssize_t length;
        const char *text = PyUnicode_Check(key) ? PyUnicode_AsUTF8AndSize(key, &length) : NULL;
        PyObject *digits = with_values && PyTuple_Check(value) && PyTuple_GET_SIZE(value) == 2 ? PyTuple_GET_ITEM(value, 0) : NULL;
        long said = digits != NULL ? PyLong_AsLong(PyTuple_GET_ITEM(value, 1)) : 0;
        if (text == NULL || length < 1 || length >= MAX_WORD_LENGTH || *count == MAX_WORDS ||
            (with_values && (digits == NULL || (digits != Py_None && !PyUnicode_Check(digits)) || said < 0 || said > 3))) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "bind(): words must be short str, at most 128 of them, "
                                              "token words mapped to (digits or None, digits said)");
            return -1;
        }
        Word *word = &table[(*count)++];
        Py_XSETREF(word->value, digits == NULL || digits == Py_None ? NULL : Py_NewRef(digits));
        memcpy(word->text, text, (size_t)length);
        word->length = length;
        word->said = (int)said;
        word->next = -1;
        if (shapes != NULL) {
            unsigned char *first = &shapes[(unsigned char)text[0]][length];
            word->next = *first - 1;
            *first = (unsigned char)*count; /* this word's index + 1 */
        }
    }
    return 0;
}

/* bind(...): the Python twins to hand what C does not read to, the callbacks for what stays in Python,
 * and the words from numbers.py, so those are written down once. */
static PyObject *bind(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"Sequence", "read_stretch", "survey", "sequences", "find_cards", "find_phones",
                            "find_emails", "cue_before", "unit_after", "phone_checked", "nanpa", "spoken_tlds",
                            "not_a_local_part", "view_table", "token_words", "cue_words", "local_joins", "domain_joins", NULL};
    PyObject *given[14], *token_words, *cue_words, *local_words, *domain_words;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$OOOOOOOOOOO!O!O!O!O!O!O!O!:bind", names, &given[0], &given[1],
                                     &given[2], &given[3], &given[4], &given[5], &given[6], &given[7], &given[8],
                                     &given[9], &PyFrozenSet_Type, &given[10], &PyFrozenSet_Type, &given[11],
                                     &PyFrozenSet_Type, &given[12], &PyDict_Type, &given[13], &PyDict_Type, &token_words, &PyDict_Type,
                                     &cue_words, &PyDict_Type, &local_words, &PyDict_Type, &domain_words))
        return NULL;
    if (word_table(token_words, words, &word_count, 1, word_shapes) < 0 ||
        word_table(cue_words, cues, &cue_count, 0, cue_shapes) < 0 ||
        word_table(local_words, local_joins, &local_join_count, 0, NULL) < 0 ||
        word_table(domain_words, domain_joins, &domain_join_count, 0, NULL) < 0)
        return NULL;
    PyObject **slots[] = {&Sequence_type, &read_stretch, &pure_survey, &pure_sequences, &pure_find_cards,
                          &pure_find_phones, &pure_find_emails, &cue_before, &unit_after, &phone_checked, &nanpa,
                          &spoken_tlds, &not_a_local_part, &view_table};
    for (int i = 0; i < 14; i++) Py_XSETREF(*slots[i], Py_NewRef(given[i]));
    memset(seen_view, -1, sizeof(seen_view));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"bind", (PyCFunction)(void (*)(void))bind, METH_VARARGS | METH_KEYWORDS, "Hand over the Python twins and the digit words."},
    {"view", (PyCFunction)(void (*)(void))view, METH_O, "text.view, compiled."},
    {"survey", (PyCFunction)(void (*)(void))survey, METH_O, "numbers.survey, compiled."},
    {"sequences", (PyCFunction)(void (*)(void))sequences, METH_FASTCALL, "numbers.sequences, compiled."},
    {"find_cards", (PyCFunction)(void (*)(void))find_cards, METH_FASTCALL, "cards.find_cards, compiled."},
    {"find_phones", (PyCFunction)(void (*)(void))find_phones, METH_FASTCALL, "phones.find_phones, compiled."},
    {"find_emails", (PyCFunction)(void (*)(void))find_emails, METH_FASTCALL, "emails.find_emails, compiled."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_speedups",
    "Compiled twins of the redactor's digit-sequence reader, card windows and phone windows.", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    PyObject **names[] = {&str_groups, &str_digits, &str_offsets, &str_plus, &str_card, &str_phone, &str_email};
    const char *texts[] = {"groups", "digits", "offsets", "plus", "CARD", "PHONE", "EMAIL"};
    for (int i = 0; i < 7; i++) {
        if ((*names[i] = PyUnicode_InternFromString(texts[i])) == NULL) return NULL;
    }
    fill_classes();
    PyObject *module = PyModule_Create(&module_def);
    /* The constants the C code shares with the Python twins; the tests compare them. */
    if (module == NULL || PyModule_AddIntConstant(module, "MAX_GAP", MAX_GAP) < 0 ||
        PyModule_AddIntConstant(module, "MIN_DIGITS", MIN_DIGITS) < 0 ||
        PyModule_AddIntConstant(module, "MIN_CARD_DIGITS", MIN_CARD_DIGITS) < 0 ||
        PyModule_AddIntConstant(module, "CUE_WINDOW", CUE_WINDOW) < 0) {
        Py_XDECREF(module);
        return NULL;
    }
    return module;
}
