/* Contents/PlugIns/Extra.bundle: a loadable bundle (MH_BUNDLE). */
#include "greeting.h"

int extra_entry(void) {
    return greeting_count(greeting_text());
}
