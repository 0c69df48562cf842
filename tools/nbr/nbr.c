/* nbr - placeholder */
#include <stdio.h>
#include "nbrewind.h"
int main(void) { printf("nbr %s\n", nbr_version_string()); return 0; }
