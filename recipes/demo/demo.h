#ifndef DEMO_H
#define DEMO_H
const char *demo_greeting(void);
#endif
