/* Greeting.framework: code the app, the helper and the plug-in share. */
#include <string.h>

#include "greeting.h"

const char *greeting_text(void) {
    return "Hello from Greeting.framework";
}

int greeting_count(const char *who) {
    return (int)strlen(who);
}
