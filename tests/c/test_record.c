/* test_record.c - execution records: built, rendered canonically, parsed back,
 * and every rule of the format enforced on both paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbr_test.h"

#define HASH_A "0123456789abcdef0123456789abcdef"
#define HASH_B "fedcba9876543210fedcba9876543210"

/* A record with every field set, built in a scrambled order. */
static nbr_record *full_record(void)
{
    nbr_record *r = NULL;
    CHECK_OK(nbr_record_new(&r));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_STATUS, "error"));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_CELL_ID, "c-1_x"));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_LANGUAGE, "python"));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_SOURCE_HASH, HASH_A));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_STARTED, "2026-11-25T17:30:00.123Z"));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_ERROR_NAME, "ValueError"));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_ERROR_VALUE, "bad \"x\"\n"));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_HOST, "{ \"kernel\" : \"python3\", \"n\": [1, 2] }"));
    CHECK_OK(nbr_record_set_execution_count(r, 7));
    CHECK_OK(nbr_record_set_duration(r, 0.25));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_READS, "z", NULL));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_READS, "a", HASH_B));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_WRITES, "y", HASH_A));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_WRITES, "b", HASH_B));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_WRITES, "@rng:numpy", HASH_A));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_DELETES, "old", NULL));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_RECOMPUTE, "client", "Client: cannot be pickled"));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_ALIASES, "b", "a"));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_OUTPUTS, HASH_B, NULL));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_OUTPUTS, HASH_A, NULL));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_OUTPUTS, HASH_B, NULL)); /* shown twice */
    return r;
}

static const char full_json[] =
    "{\"record\":1,\"cell_id\":\"c-1_x\",\"language\":\"python\",\"source_hash\":\"" HASH_A
    "\",\"status\":\"error\",\"started\":\"2026-11-25T17:30:00.123Z\",\"error_name\":"
    "\"ValueError\",\"error_value\":\"bad \\\"x\\\"\\n\",\"host\":{\"kernel\":\"python3\","
    "\"n\":[1,2]},\"execution_count\":7,\"duration\":0.250000,\"reads\":{\"a\":\"" HASH_B
    "\",\"z\":null},\"writes\":{\"@rng:numpy\":\"" HASH_A "\",\"b\":\"" HASH_B "\",\"y\":\"" HASH_A
    "\"},\"deletes\":[\"old\"],\"recompute\":{\"client\":\"Client: cannot be pickled\"},"
    "\"aliases\":{\"b\":\"a\"},\"outputs\":[\"" HASH_B "\",\"" HASH_A "\",\"" HASH_B "\"]}";

static void test_rendering_is_canonical(void)
{
    nbr_record *r = full_record();
    char *json = NULL;
    CHECK_OK(nbr_record_to_json(&json, r));
    CHECK_STR(full_json, json);
    nbr_free(json);
    nbr_record_free(r);
}

static void test_parse_gives_back_every_field(void)
{
    nbr_record *r = NULL;
    CHECK_OK(nbr_record_parse(&r, full_json, strlen(full_json)));
    CHECK_STR("c-1_x", nbr_record_text(r, NBR_RECORD_CELL_ID));
    CHECK_STR("bad \"x\"\n", nbr_record_text(r, NBR_RECORD_ERROR_VALUE));
    CHECK_STR("{\"kernel\":\"python3\",\"n\":[1,2]}", nbr_record_text(r, NBR_RECORD_HOST));
    CHECK(nbr_record_execution_count(r) == 7);
    CHECK(nbr_record_duration(r) == 0.25);
    CHECK(nbr_record_count(r, NBR_RECORD_WRITES) == 3);
    CHECK(nbr_record_count(r, NBR_RECORD_OUTPUTS) == 3);
    const char *value = "unset";
    CHECK_OK(nbr_record_lookup(&value, r, NBR_RECORD_READS, "z"));
    CHECK(value == NULL);
    CHECK_OK(nbr_record_lookup(&value, r, NBR_RECORD_WRITES, "b"));
    CHECK_STR(HASH_B, value);
    CHECK_STATUS(NBR_ENOTFOUND, nbr_record_lookup(&value, r, NBR_RECORD_WRITES, "nope"));
    const char *key = NULL;
    CHECK_OK(nbr_record_entry(&key, &value, r, NBR_RECORD_RECOMPUTE, 0));
    CHECK_STR("client", key);
    CHECK_STATUS(NBR_EINVAL, nbr_record_entry(&key, &value, r, NBR_RECORD_RECOMPUTE, 1));
    char *again = NULL;
    CHECK_OK(nbr_record_to_json(&again, r));
    CHECK_STR(full_json, again);
    nbr_free(again);
    nbr_record_free(r);
}

static void test_minimal_record_has_only_required_fields(void)
{
    nbr_record *r = NULL;
    CHECK_OK(nbr_record_new(&r));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_CELL_ID, "c"));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_LANGUAGE, "r"));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_SOURCE_HASH, HASH_A));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_STATUS, "ok"));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_STARTED, "2026-01-01T00:00:00.000Z"));
    char *json = NULL;
    CHECK_OK(nbr_record_to_json(&json, r));
    CHECK_STR("{\"record\":1,\"cell_id\":\"c\",\"language\":\"r\",\"source_hash\":\"" HASH_A
              "\",\"status\":\"ok\",\"started\":\"2026-01-01T00:00:00.000Z\",\"reads\":{},"
              "\"writes\":{},\"deletes\":[],\"recompute\":{},\"aliases\":{},\"outputs\":[]}",
              json);
    CHECK(nbr_record_execution_count(r) == -1 && nbr_record_duration(r) == -1);
    nbr_free(json);
    nbr_record_free(r);
}

/* Expects `call` to fail with `status` and the message to contain `needle`. */
#define CHECK_FAILS(status, needle, call)                                              \
    do {                                                                               \
        CHECK_STATUS(status, call);                                                    \
        CHECK(strstr(nbr_last_error(), needle) != NULL);                               \
    } while (0)

static void test_setters_reject_bad_values_naming_the_field(void)
{
    nbr_record *r = NULL;
    CHECK_OK(nbr_record_new(&r));
    CHECK_FAILS(NBR_EINVAL, "cell_id", nbr_record_set_text(r, NBR_RECORD_CELL_ID, "has space"));
    CHECK_FAILS(NBR_EINVAL, "cell_id", nbr_record_set_text(r, NBR_RECORD_CELL_ID, ""));
    CHECK_FAILS(NBR_EINVAL, "source_hash",
                nbr_record_set_text(r, NBR_RECORD_SOURCE_HASH, "0123"));
    CHECK_FAILS(NBR_EINVAL, "status", nbr_record_set_text(r, NBR_RECORD_STATUS, "fine"));
    CHECK_FAILS(NBR_EINVAL, "language", nbr_record_set_text(r, NBR_RECORD_LANGUAGE, "julia"));
    CHECK_FAILS(NBR_EINVAL, "started",
                nbr_record_set_text(r, NBR_RECORD_STARTED, "2026-11-25 17:30:00"));
    CHECK_FAILS(NBR_EINVAL, "host", nbr_record_set_text(r, NBR_RECORD_HOST, "[1]"));
    CHECK_FAILS(NBR_EINVAL, "host", nbr_record_set_text(r, NBR_RECORD_HOST, "{"));
    CHECK_FAILS(NBR_EINVAL, "error_value",
                nbr_record_set_text(r, NBR_RECORD_ERROR_VALUE, "\xff\xfe"));
    CHECK_FAILS(NBR_EINVAL, "duration", nbr_record_set_duration(r, -1.0));
    CHECK_FAILS(NBR_EINVAL, "unknown field", nbr_record_set_text(r, (nbr_record_field)99, "x"));
    CHECK(nbr_record_text(r, NBR_RECORD_CELL_ID) == NULL); /* nothing was kept */
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_CELL_ID, "c"));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_CELL_ID, NULL)); /* cleared */
    CHECK(nbr_record_text(r, NBR_RECORD_CELL_ID) == NULL);
    nbr_record_free(r);
}

static void test_lists_reject_bad_entries_naming_them(void)
{
    nbr_record *r = NULL;
    CHECK_OK(nbr_record_new(&r));
    CHECK_FAILS(NBR_EINVAL, "writes", nbr_record_add(r, NBR_RECORD_WRITES, "x", NULL));
    CHECK_FAILS(NBR_EINVAL, "\"x\"", nbr_record_add(r, NBR_RECORD_WRITES, "x", "not-an-id"));
    CHECK_FAILS(NBR_EINVAL, "reads", nbr_record_add(r, NBR_RECORD_READS, "x", "zz"));
    CHECK_FAILS(NBR_EINVAL, "deletes", nbr_record_add(r, NBR_RECORD_DELETES, "x", HASH_A));
    CHECK_FAILS(NBR_EINVAL, "recompute", nbr_record_add(r, NBR_RECORD_RECOMPUTE, "x", NULL));
    CHECK_FAILS(NBR_EINVAL, "aliases", nbr_record_add(r, NBR_RECORD_ALIASES, "x", "x"));
    CHECK_FAILS(NBR_EINVAL, "outputs", nbr_record_add(r, NBR_RECORD_OUTPUTS, "x", NULL));
    CHECK_FAILS(NBR_EINVAL, "reads", nbr_record_add(r, NBR_RECORD_READS, "", NULL));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_WRITES, "x", HASH_A));
    CHECK_FAILS(NBR_EINVAL, "twice", nbr_record_add(r, NBR_RECORD_WRITES, "x", HASH_B));
    CHECK(nbr_record_count(r, NBR_RECORD_WRITES) == 1);
    nbr_record_free(r);
}

/* A record with the required fields, for the whole-record rules. */
static nbr_record *required_only(const char *status)
{
    nbr_record *r = NULL;
    CHECK_OK(nbr_record_new(&r));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_CELL_ID, "c"));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_LANGUAGE, "python"));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_SOURCE_HASH, HASH_A));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_STATUS, status));
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_STARTED, "2026-01-01T00:00:00.000Z"));
    return r;
}

static void test_rendering_checks_rules_between_fields(void)
{
    char *json = NULL;
    nbr_record *r = required_only("ok");
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_STARTED, NULL));
    CHECK_FAILS(NBR_EINVAL, "\"started\" is missing", nbr_record_to_json(&json, r));
    CHECK(json == NULL);
    nbr_record_free(r);

    r = required_only("ok");
    CHECK_OK(nbr_record_add(r, NBR_RECORD_WRITES, "x", HASH_A));
    CHECK_OK(nbr_record_add(r, NBR_RECORD_DELETES, "x", NULL));
    CHECK_FAILS(NBR_EINVAL, "\"writes\" and \"deletes\"", nbr_record_to_json(&json, r));
    nbr_record_free(r);

    r = required_only("ok");
    CHECK_OK(nbr_record_add(r, NBR_RECORD_ALIASES, "b", "a"));
    CHECK_FAILS(NBR_EINVAL, "alias \"b\"", nbr_record_to_json(&json, r));
    nbr_record_free(r);

    r = required_only("ok");
    CHECK_OK(nbr_record_set_text(r, NBR_RECORD_ERROR_NAME, "KeyError"));
    CHECK_FAILS(NBR_EINVAL, "did not fail", nbr_record_to_json(&json, r));
    nbr_record_free(r);
}

static void parse_fails(nbr_status status, const char *needle, const char *text)
{
    nbr_record *r = (nbr_record *)1;
    CHECK_FAILS(status, needle, nbr_record_parse(&r, text, strlen(text)));
    CHECK(r == NULL);
}

#define REQUIRED_JSON                                                                    \
    "\"cell_id\":\"c\",\"language\":\"python\",\"source_hash\":\"" HASH_A "\","          \
    "\"status\":\"ok\",\"started\":\"2026-01-01T00:00:00.000Z\""

static void test_parse_rejects_damage_naming_the_cause(void)
{
    parse_fails(NBR_ECORRUPT, "not JSON", "{\"record\":1,");
    parse_fails(NBR_ECORRUPT, "not a JSON object", "[1]");
    parse_fails(NBR_ECORRUPT, "format version", "{" REQUIRED_JSON "}");
    parse_fails(NBR_EUNSUPPORTED, "version 2", "{\"record\":2," REQUIRED_JSON "}");
    parse_fails(NBR_ECORRUPT, "unknown key \"extra\"", "{\"record\":1," REQUIRED_JSON ",\"extra\":1}");
    parse_fails(NBR_ECORRUPT, "\"status\" is missing",
                "{\"record\":1,\"cell_id\":\"c\",\"language\":\"python\",\"source_hash\":\"" HASH_A
                "\",\"started\":\"2026-01-01T00:00:00.000Z\"}");
    parse_fails(NBR_ECORRUPT, "\"y\" needs an object id",
                "{\"record\":1," REQUIRED_JSON ",\"writes\":{\"y\":\"abc\"}}");
    parse_fails(NBR_ECORRUPT, "\"deletes\" is not an array",
                "{\"record\":1," REQUIRED_JSON ",\"deletes\":{}}");
    parse_fails(NBR_ECORRUPT, "entry 0 of \"outputs\"",
                "{\"record\":1," REQUIRED_JSON ",\"outputs\":[3]}");
    parse_fails(NBR_ECORRUPT, "execution_count",
                "{\"record\":1," REQUIRED_JSON ",\"execution_count\":-3}");
    parse_fails(NBR_ECORRUPT, "status", "{\"record\":1," REQUIRED_JSON ",\"status\":7}");
    parse_fails(NBR_ECORRUPT, "source_hash",
                "{\"record\":1,\"cell_id\":\"c\",\"language\":\"python\",\"source_hash\":"
                "\"12\",\"status\":\"ok\",\"started\":\"2026-01-01T00:00:00.000Z\"}");
    nbr_record *r = NULL;
    const char *ok = "{\"record\":1," REQUIRED_JSON ",\"execution_count\":null}";
    CHECK_OK(nbr_record_parse(&r, ok, strlen(ok)));
    CHECK(nbr_record_execution_count(r) == -1);
    nbr_record_free(r);
}

NBR_TEST_MAIN(TEST(test_rendering_is_canonical), TEST(test_parse_gives_back_every_field),
              TEST(test_minimal_record_has_only_required_fields),
              TEST(test_setters_reject_bad_values_naming_the_field),
              TEST(test_lists_reject_bad_entries_naming_them),
              TEST(test_rendering_checks_rules_between_fields),
              TEST(test_parse_rejects_damage_naming_the_cause))
