//! Template GC placeholder (filled below).
