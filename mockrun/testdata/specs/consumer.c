#include <stdio.h>
#include <demo.h>

int main(void) {
	printf("demo %d\n", demo_answer());
	return 0;
}
