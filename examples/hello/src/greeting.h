#ifndef HELLO_GREETING_H
#define HELLO_GREETING_H

#include <stddef.h>

/* Writes "Hello, <who>!" into buf (always NUL-terminated). */
void greeting_format(char *buf, size_t size, const char *who);

#endif
