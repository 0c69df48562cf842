/* graph.c - placeholder */
#include "nbrewind.h"
