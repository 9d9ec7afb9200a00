#include "demo.h"
const char *demo_greeting(void) { return "hello from libdemo"; }
