// Contents/Helpers/multi-helper: a second executable, in C++ (libc++ from
// the SDK, linked as /usr/lib/libc++.1.dylib), using the framework's C API.
#include <iostream>
#include <string>
#include <vector>

#include "greeting.h"

int main(int argc, char **argv) {
    std::vector<std::string> names(argv + 1, argv + argc);
    if (names.empty()) names.emplace_back("world");
    for (const std::string &name : names)
        std::cout << "helper: " << greeting_text() << ", " << name << " ("
                  << greeting_count(name.c_str()) << ")\n";
    return 0;
}
