/* A statically linked program: it ignores LD_PRELOAD, so a tenant must never
 * be allowed to run it (THREATS 6). Prints what it could read. */
#include <stdio.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    FILE *f = fopen(argv[i], "r");
    if (f == NULL) return 1;
    int c;
    while ((c = fgetc(f)) != EOF) putchar(c);
    fclose(f);
  }
  puts("static-ran");
  return 0;
}
