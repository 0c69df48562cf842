/* json.c - placeholder */
#include "nbrewind.h"
