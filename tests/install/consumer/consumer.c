/* A program outside the nbrewind tree, built against the installed library
 * (by find_package(nbrewind) or by pkg-config).  It prints the library's
 * version, whether it matches the installed header, one cell's analysis and
 * the content id of "abc" (which, linked statically, needs libxxhash). */
#include <nbrewind.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    printf("version %s\n", nbr_version_string());
    printf("header matches library: %s\n",
           nbr_version() == NBR_VERSION_NUMBER ? "yes" : "no");
    static const char cell[] = "y = x + 1\n";
    nbr_analysis *a = NULL;
    if (nbr_analysis_new(&a, NBR_LANG_PYTHON, cell, strlen(cell)) != NBR_OK) {
        fprintf(stderr, "nbr_analysis_new: %s\n", nbr_last_error());
        return 1;
    }
    char *json = NULL;
    if (nbr_analysis_to_json(&json, a) != NBR_OK) {
        fprintf(stderr, "nbr_analysis_to_json: %s\n", nbr_last_error());
        nbr_analysis_free(a);
        return 1;
    }
    printf("analysis %s\n", json);
    nbr_free(json);
    nbr_analysis_free(a);

    nbr_object_id id;
    char hex[33];
    if (nbr_hash_bytes(&id, "abc", 3) != NBR_OK || nbr_object_id_to_hex(hex, &id) != NBR_OK) {
        fprintf(stderr, "nbr_hash_bytes: %s\n", nbr_last_error());
        return 1;
    }
    printf("hash abc %s\n", hex);
    return 0;
}
