#ifndef DEMO_H
#define DEMO_H
/* demo_answer returns 42. */
int demo_answer(void);
#endif
