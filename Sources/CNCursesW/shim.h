// Shim for libncursesw: inline wrappers for the macros and mutable globals
// that Swift cannot import (see shared notes 2.1/2.2). Only the UI thread calls these.
#ifndef GAVEL_CNCURSESW_SHIM_H
#define GAVEL_CNCURSESW_SHIM_H
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>
#include <langinfo.h>
#include <string.h>

static inline WINDOW *gavel_stdscr(void) { return stdscr; }
static inline int gavel_lines(void) { return LINES; }
static inline int gavel_cols(void) { return COLS; }
static inline attr_t gavel_a_normal(void) { return A_NORMAL; }
static inline attr_t gavel_a_bold(void) { return A_BOLD; }
static inline attr_t gavel_a_reverse(void) { return A_REVERSE; }
static inline attr_t gavel_a_dim(void) { return A_DIM; }
static inline attr_t gavel_a_underline(void) { return A_UNDERLINE; }
static inline attr_t gavel_color_pair(int n) { return COLOR_PAIR(n); }
static inline int gavel_key_f(int n) { return KEY_F(n); }
static inline int gavel_wcwidth(wchar_t c) { return wcwidth(c); }
static inline int gavel_setlocale_all(void) { return setlocale(LC_ALL, "") != NULL; }

// Additions for GavelConsole's CursesScreen.
static inline int gavel_colors(void) { return COLORS; }
static inline int gavel_color_pairs(void) { return COLOR_PAIRS; }
static inline int gavel_set_style(WINDOW *w, attr_t a, short pair) { return wattr_set(w, a, pair, NULL); }
static inline int gavel_mvwinnwstr(WINDOW *w, int y, int x, wchar_t *buf, int n) { return mvwinnwstr(w, y, x, buf, n); }
static inline int gavel_mvwaddnwstr(WINDOW *w, int y, int x, const wchar_t *s, int n) { return mvwaddnwstr(w, y, x, s, n); }
static inline int gavel_getmaxy(WINDOW *w) { return getmaxy(w); }
static inline int gavel_getmaxx(WINDOW *w) { return getmaxx(w); }
// setlocale(LC_ALL, "") first; when that is not a UTF-8 locale (LANG unset in CI), fall back to
// C.UTF-8 for LC_CTYPE so wide characters and wcwidth work. Returns 1 when UTF-8 is in effect.
static inline int gavel_setlocale_utf8(void) {
    setlocale(LC_ALL, "");
    const char *cs = nl_langinfo(CODESET);
    if (cs != NULL && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0)) return 1;
    return setlocale(LC_CTYPE, "C.UTF-8") != NULL;
}
#endif
