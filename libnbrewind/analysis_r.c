/* analysis_r.c - R cells (placeholder until the R analyzer lands). */
#include "analysis.h"

nbr_status nbr_analyze_r(nbr_analysis *a, const char *source, size_t length)
{
    (void)a; (void)source; (void)length;
    return NBR_OK;
}
