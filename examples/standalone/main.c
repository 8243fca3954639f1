/* A one-file app for the standalone example: what a user's own repository
 * holds next to its release.toml. */
#include <stdio.h>

int main(void) {
    printf("Hello from a project built with `reprodmg build`\n");
    return 0;
}
