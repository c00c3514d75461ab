// Shim for libncursesw: inline wrappers for the macros and mutable globals
// that Swift cannot import (see shared notes 2.1/2.2). Only the UI thread calls these.
#ifndef GAVEL_CNCURSESW_SHIM_H
#define GAVEL_CNCURSESW_SHIM_H
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>

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
#endif
