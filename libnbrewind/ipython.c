/* ipython.c - placeholder */
#include "analysis.h"
