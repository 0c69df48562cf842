/* grammar.c - symbol-id -> kind tables for the analyzers' grammars. */
#include "grammar.h"

#include <string.h>

void nbr_grammar_load(nbr_grammar *g, const TSLanguage *language, const char *const *kind_names,
                      size_t kind_count, const char *const *field_names, size_t field_count)
{
    memset(g, 0, sizeof *g);
    uint32_t symbols = ts_language_symbol_count(language);
    for (uint32_t symbol = 0; symbol < symbols && symbol < NBR_GRAMMAR_MAX_SYMBOLS; symbol++) {
        /* Keywords share their text with named nodes ("lambda", "break"). */
        if (ts_language_symbol_type(language, (TSSymbol)symbol) != TSSymbolTypeRegular) continue;
        const char *name = ts_language_symbol_name(language, (TSSymbol)symbol);
        for (size_t k = 1; name && k < kind_count; k++)
            if (kind_names[k] && !strcmp(name, kind_names[k])) g->kind[symbol] = (uint8_t)k;
    }
    for (size_t f = 0; f < field_count && f < NBR_GRAMMAR_MAX_FIELDS; f++)
        g->field[f] = ts_language_field_id_for_name(language, field_names[f],
                                                    (uint32_t)strlen(field_names[f]));
}
