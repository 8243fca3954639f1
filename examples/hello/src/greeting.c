#include "greeting.h"

#include <stdio.h>

void greeting_format(char *buf, size_t size, const char *who) {
    snprintf(buf, size, "Hello, %s!", who);
}
