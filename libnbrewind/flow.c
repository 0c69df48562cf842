/* flow.c - definitely-bound name sets with an "unreachable" top element. */
#include "flow.h"

void nbr_flow_init(nbr_flow *flow)
{
    nbr_strset_init(&flow->bound);
    flow->top = false;
}

void nbr_flow_clear(nbr_flow *flow) { nbr_strset_clear(&flow->bound); }

bool nbr_flow_copy(nbr_flow *dst, const nbr_flow *src)
{
    dst->top = src->top;
    return nbr_strset_copy(&dst->bound, &src->bound);
}

void nbr_flow_meet(nbr_flow *dst, const nbr_flow *other)
{
    if (other->top) return;
    if (dst->top) {
        /* Copy failure leaves dst top, i.e. over-approximates "bound"; callers
         * check the analysis' out-of-memory flag, so this is only transient. */
        nbr_flow_copy(dst, other);
        return;
    }
    nbr_strset_intersect(&dst->bound, &other->bound);
}

bool nbr_flow_has(const nbr_flow *flow, const char *name, size_t length)
{
    return flow->top || nbr_strset_find_n(&flow->bound, name, length) >= 0;
}

bool nbr_flow_bind(nbr_flow *flow, const char *name, size_t length)
{
    return flow->top || nbr_strset_add_n(&flow->bound, name, length);
}

void nbr_flow_unbind(nbr_flow *flow, const char *name, size_t length)
{
    if (!flow->top) nbr_strset_remove_n(&flow->bound, name, length);
}

void nbr_flow_end_path(nbr_flow *flow)
{
    flow->top = true;
    nbr_strset_clear(&flow->bound);
}
