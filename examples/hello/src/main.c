/* Hello: the reprodmg example app.
 *
 * A plain C program in a .app bundle: launched from Finder it runs and exits;
 * from Terminal (Hello.app/Contents/MacOS/Hello) it prints its greeting.
 * It uses libSystem only, which is all the demo SDK provides.
 */
#include <stdio.h>

#include "greeting.h"

int main(int argc, char **argv) {
    const char *who = argc > 1 ? argv[1] : "world";
    char line[256];
    greeting_format(line, sizeof line, who);
    puts(line);
    return 0;
}
