/* A program outside the nbrewind tree, built against the installed library
 * (by find_package(nbrewind) or by pkg-config).  It prints the library's
 * version, whether it matches the installed header, one cell's analysis and
 * the content id of "abc" (which, linked statically, needs libxxhash), and
 * stores and reads back a small array in a checkpoint store in a temporary
 * directory (which, linked statically, needs HDF5 and Blosc). */
#define _POSIX_C_SOURCE 200809L
#include <nbrewind.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Puts a 2x3 float64 array in a new store, commits, and reads it back. */
static int store_round_trip(void)
{
    char dir[] = "/tmp/nbr-consumer-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[64];
    snprintf(path, sizeof path, "%s/store", dir);
    const double values[6] = {1, 2, 3, 4, 5, 6};
    const uint64_t shape[2] = {2, 3};
    double back[6] = {0};
    nbr_store *store = NULL;
    nbr_checkpoint *cp = NULL;
    nbr_object_id id;
    char *checkpoint = NULL;
    int ok = nbr_store_open(&store, path, NBR_STORE_WRITE | NBR_STORE_CREATE) == NBR_OK &&
             nbr_checkpoint_begin(&cp, store, "cell-1", 1, NULL) == NBR_OK &&
             nbr_checkpoint_put_array(&id, cp, "a", "<f8", 2, shape, NULL, values) == NBR_OK &&
             nbr_checkpoint_commit(&checkpoint, cp) == NBR_OK &&
             nbr_store_read_array(back, sizeof back, store, &id, "<f8", 2, shape) == NBR_OK &&
             !memcmp(back, values, sizeof values);
    if (!ok) fprintf(stderr, "store round trip: %s\n", nbr_last_error());
    else printf("store round trip ok, checkpoint %s\n", checkpoint);
    nbr_free(checkpoint);
    nbr_store_close(store);
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return ok ? 0 : 1;
}

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
    return store_round_trip();
}
