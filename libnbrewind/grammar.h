/* grammar.h - a tree-sitter grammar's node types and fields as small numbers
 * (private).
 *
 * The analyzers dispatch on the type of every node.  Comparing type strings
 * at each node cost a third of the walk, so each analyzer names the types and
 * fields it cares about once, and this table maps the grammar's symbol ids to
 * those kinds.  It is filled once per process (pthread_once) and read-only
 * after that. */
#ifndef NBR_GRAMMAR_H
#define NBR_GRAMMAR_H

#include <stddef.h>
#include <stdint.h>
#include <tree_sitter/api.h>

#define NBR_GRAMMAR_MAX_SYMBOLS 1024
#define NBR_GRAMMAR_MAX_FIELDS 48

typedef struct nbr_grammar {
    uint8_t kind[NBR_GRAMMAR_MAX_SYMBOLS]; /* 0: a type the analyzer does not name */
    TSFieldId field[NBR_GRAMMAR_MAX_FIELDS];
} nbr_grammar;

/* Fills `g`: a named symbol whose type is kind_names[k] gets kind k (entry 0
 * and NULL entries are skipped; several symbols may share a kind, as aliases
 * do); field[f] is the id of field_names[f] (0 if the grammar has none). */
void nbr_grammar_load(nbr_grammar *g, const TSLanguage *language, const char *const *kind_names,
                      size_t kind_count, const char *const *field_names, size_t field_count);

/* The kind of a node (0 for a null node or an unnamed type). */
static inline int nbr_grammar_kind(const nbr_grammar *g, TSNode n)
{
    if (ts_node_is_null(n)) return 0;
    TSSymbol symbol = ts_node_symbol(n);
    return symbol < NBR_GRAMMAR_MAX_SYMBOLS ? g->kind[symbol] : 0;
}

#endif
