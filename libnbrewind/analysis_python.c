/* analysis_python.c - placeholder. */
#include "analysis.h"

nbr_status nbr_analyze_python(nbr_analysis *a, const char *source, size_t length)
{
    (void)a; (void)source; (void)length;
    return NBR_OK;
}
