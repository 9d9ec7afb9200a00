#include <stdio.h>
#include "demo.h"
int main(void) { puts(demo_greeting()); return 0; }
