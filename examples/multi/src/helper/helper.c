/* Contents/Helpers/multi-helper: a second executable in the bundle. */
#include <stdio.h>

#include "greeting.h"

int main(void) {
    printf("helper: %s\n", greeting_text());
    return 0;
}
