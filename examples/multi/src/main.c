/* The Multi example's main executable: links Greeting.framework through
 * @rpath (LC_RPATH @executable_path/../Frameworks). */
#include <stdio.h>

#include "greeting.h"

int main(int argc, char **argv) {
    printf("%s (%d)\n", greeting_text(), greeting_count(argc > 1 ? argv[1] : "world"));
    return 0;
}
