/* flow.h - "definitely bound" sets for flow-sensitive analysis (private).
 *
 * Both analyzers walk a cell in evaluation order and keep the set of names
 * bound on every path so far; a read of a name outside that set is an input.
 * A path that cannot continue (after raise, return, break) is "top": every name
 * counts as bound, so it never weakens the meet of two branches. */
#ifndef NBR_FLOW_H
#define NBR_FLOW_H

#include <stdbool.h>

#include "strset.h"

typedef struct nbr_flow {
    nbr_strset bound;
    bool top; /* unreachable: everything counts as bound */
} nbr_flow;

void nbr_flow_init(nbr_flow *flow);
void nbr_flow_clear(nbr_flow *flow);

/* Returns false when out of memory. */
bool nbr_flow_copy(nbr_flow *dst, const nbr_flow *src);

/* dst := dst meet other (the names bound on both paths). */
void nbr_flow_meet(nbr_flow *dst, const nbr_flow *other);

bool nbr_flow_has(const nbr_flow *flow, const char *name, size_t length);
bool nbr_flow_bind(nbr_flow *flow, const char *name, size_t length);
void nbr_flow_unbind(nbr_flow *flow, const char *name, size_t length);

/* Marks the path as ended (raise, return, break, continue). */
void nbr_flow_end_path(nbr_flow *flow);

#endif
