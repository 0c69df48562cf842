/* test_dtype.c - NumPy dtype strings <-> HDF5 types (libnbrewind/dtype.c).
 *
 * Private API: linked from the static library.  Every round trip goes
 * string -> HDF5 type -> string; types HDF5 has no twin for (UCS-4 strings,
 * datetime units) are checked against the documented HDF5 type instead. */
#include <hdf5.h>
#include <stdint.h>

#include "dtype.h"
#include "nbr_test.h"

static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* to_hdf5 then from_hdf5 gives `back`; itemsize and H5Tget_size agree. */
static void round_trip_as(const char *dtype, const char *back, size_t itemsize)
{
    hid_t t = -1;
    size_t size = 0, size2 = 0;
    CHECK_OK(nbr_dtype_to_hdf5(&t, &size, dtype));
    if (t < 0) {
        fprintf(stderr, "  dtype %s\n", dtype);
        return;
    }
    if (size != itemsize || H5Tget_size(t) != itemsize) {
        fprintf(stderr, "%s: itemsize %zu, HDF5 size %zu, expected %zu\n", dtype, size,
                H5Tget_size(t), itemsize);
        nbr_test_failures++;
    }
    CHECK_OK(nbr_dtype_itemsize(&size2, dtype));
    CHECK(size2 == itemsize);
    char *s = NULL;
    CHECK_OK(nbr_dtype_from_hdf5(&s, t));
    CHECK_STR(back, s);
    free(s);
    char *norm = NULL;
    CHECK_OK(nbr_dtype_normalize(&norm, dtype));
    CHECK_STR(dtype, norm);
    free(norm);
    H5Tclose(t);
}

static void round_trip(const char *dtype, size_t itemsize)
{
    round_trip_as(dtype, dtype, itemsize);
}

static void test_plain_round_trips(void)
{
    round_trip("|b1", 1);
    round_trip("|i1", 1);
    round_trip("|u1", 1);
    const char *orders = "<>";
    for (int o = 0; o < 2; o++) {
        char s[16];
        for (int size = 2; size <= 8; size *= 2) {
            snprintf(s, sizeof s, "%ci%d", orders[o], size);
            round_trip(s, (size_t)size);
            snprintf(s, sizeof s, "%cu%d", orders[o], size);
            round_trip(s, (size_t)size);
            snprintf(s, sizeof s, "%cf%d", orders[o], size);
            round_trip(s, (size_t)size);
        }
        snprintf(s, sizeof s, "%cc8", orders[o]);
        round_trip(s, 8);
        snprintf(s, sizeof s, "%cc16", orders[o]);
        round_trip(s, 16);
    }
    round_trip("|S1", 1);
    round_trip("|S17", 17);
    round_trip("|S100000", 100000);
    round_trip("|V8", 8);
    round_trip("|V1", 1);
}

static void test_hdf5_types_are_h5pys(void)
{
    hid_t t = -1;
    /* bool: h5py's enum */
    CHECK_OK(nbr_dtype_to_hdf5(&t, NULL, "|b1"));
    CHECK(H5Tget_class(t) == H5T_ENUM);
    CHECK(H5Tget_nmembers(t) == 2);
    char *n0 = H5Tget_member_name(t, 0), *n1 = H5Tget_member_name(t, 1);
    CHECK_STR("FALSE", n0);
    CHECK_STR("TRUE", n1);
    H5free_memory(n0);
    H5free_memory(n1);
    hid_t super = H5Tget_super(t);
    CHECK(H5Tequal(super, H5T_NATIVE_INT8) > 0);
    H5Tclose(super);
    H5Tclose(t);

    /* complex: compound r, i */
    CHECK_OK(nbr_dtype_to_hdf5(&t, NULL, ">c16"));
    CHECK(H5Tget_class(t) == H5T_COMPOUND && H5Tget_nmembers(t) == 2);
    CHECK(H5Tget_member_offset(t, 1) == 8);
    hid_t m = H5Tget_member_type(t, 1);
    CHECK(H5Tequal(m, H5T_IEEE_F64BE) > 0);
    H5Tclose(m);
    H5Tclose(t);

    /* float16: the IEEE half layout; 0x3C00 is 1.0, 0xC000 is -2.0 */
    CHECK_OK(nbr_dtype_to_hdf5(&t, NULL, "<f2"));
    CHECK(H5Tget_class(t) == H5T_FLOAT && H5Tget_size(t) == 2);
    CHECK(H5Tget_precision(t) == 16);
    CHECK(H5Tget_ebias(t) == 15);
    size_t spos, epos, esize, mpos, msize;
    CHECK(H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize) >= 0);
    CHECK(spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10);
    unsigned char buf[2 * sizeof(double)] = {0x00, 0x3C, 0x00, 0xC0};
    CHECK(H5Tconvert(t, H5T_NATIVE_DOUBLE, 2, buf, NULL, H5P_DEFAULT) >= 0);
    double d[2];
    memcpy(d, buf, sizeof d);
    CHECK(d[0] == 1.0 && d[1] == -2.0);
    H5Tclose(t);

    /* fixed bytes: null-padded ASCII */
    CHECK_OK(nbr_dtype_to_hdf5(&t, NULL, "|S5"));
    CHECK(H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0);
    CHECK(H5Tget_strpad(t) == H5T_STR_NULLPAD && H5Tget_cset(t) == H5T_CSET_ASCII);
    H5Tclose(t);

    /* ints keep their byte order */
    CHECK_OK(nbr_dtype_to_hdf5(&t, NULL, ">u4"));
    CHECK(H5Tequal(t, H5T_STD_U32BE) > 0);
    H5Tclose(t);
}

static void test_unicode_and_datetime(void)
{
    hid_t t = -1;
    size_t size = 0;
    /* <U<n>: an array of n little-endian uint32 */
    CHECK_OK(nbr_dtype_to_hdf5(&t, &size, "<U7"));
    CHECK(size == 28 && H5Tget_size(t) == 28);
    CHECK(H5Tget_class(t) == H5T_ARRAY && H5Tget_array_ndims(t) == 1);
    hsize_t dims[1] = {0};
    H5Tget_array_dims2(t, dims);
    CHECK(dims[0] == 7);
    hid_t super = H5Tget_super(t);
    CHECK(H5Tequal(super, H5T_STD_U32LE) > 0);
    H5Tclose(super);
    /* as a whole element, HDF5 has no dtype string for it: the attribute does */
    char *s = NULL;
    quiet_hdf5();
    CHECK_STATUS(NBR_EUNSUPPORTED, nbr_dtype_from_hdf5(&s, t));
    CHECK(s == NULL);
    H5Tclose(t);
    CHECK_OK(nbr_dtype_to_hdf5(&t, &size, ">U1"));
    super = H5Tget_super(t);
    CHECK(H5Tequal(super, H5T_STD_U32BE) > 0);
    H5Tclose(super);
    H5Tclose(t);

    /* datetime64 / timedelta64: int64, every unit NumPy writes */
    const char *times[] = {"<M8",     "<M8[Y]",  "<M8[M]",   "<M8[W]",  "<M8[D]",  "<M8[h]",
                           "<M8[m]",  "<M8[s]",  "<M8[ms]",  "<M8[us]", "<M8[ns]", "<M8[ps]",
                           "<M8[fs]", "<M8[as]", "<M8[10s]", "<m8[ns]", "<m8",     "<m8[25us]"};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        round_trip_as(times[i], "<i8", 8);
    }
    round_trip_as(">M8[ns]", ">i8", 8);
}

static void test_structured(void)
{
    round_trip("[[\"a\", \"<i4\"], [\"b\", \"<f8\", [3]]]", 28);
    round_trip(
        "[[\"a\", \"<i4\"], [\"b\", \"<f8\", [3]], [\"s\", [[\"x\", \"<f4\"], [\"y\", \"|b1\"]]], "
        "[\"c\", \"<c16\", [2, 2]], [\"z\", \"|S3\"]]",
        4 + 24 + 5 + 64 + 3);
    /* padding, inside and at the end: NumPy's descr of offsets [0, 8], itemsize 24 */
    const char *padded = "[[\"a\", \"|i1\"], [\"\", \"|V7\"], [\"b\", \">f8\"], [\"\", \"|V8\"]]";
    round_trip(padded, 24);
    hid_t t = -1;
    CHECK_OK(nbr_dtype_to_hdf5(&t, NULL, padded));
    CHECK(H5Tget_nmembers(t) == 2);
    CHECK(H5Tget_member_offset(t, 0) == 0 && H5Tget_member_offset(t, 1) == 8);
    H5Tclose(t);
    /* nested structure as a subarray */
    round_trip("[[\"p\", [[\"x\", \"<f4\"], [\"y\", \"<f4\"]], [2, 3]], [\"q\", \"|u1\"]]", 49);
    /* a named void field */
    round_trip("[[\"raw\", \"|V3\"], [\"n\", \"<u2\"]]", 5);
    /* non-ASCII and escaped names, as Python's json.dumps writes them */
    round_trip("[[\"\\u00e9t\\u00e9\", \"<i2\"], [\"\\ud83d\\ude00\", \"|u1\"], [\"q\\\"\\\\\\n\", "
               "\"|u1\"]]",
               4);

    /* what HDF5 cannot tell: UCS-4 fields, datetimes, titles */
    round_trip_as("[[\"u\", \"<U3\"], [\"t\", \"<M8[ns]\"]]",
                  "[[\"u\", \"<u4\", [3]], [\"t\", \"<i8\"]]", 20);
    round_trip_as("[[\"u\", \"<U3\", [2]]]", "[[\"u\", \"<u4\", [2, 3]]]", 24);
    hid_t t2 = -1;
    size_t size = 0;
    CHECK_OK(nbr_dtype_to_hdf5(&t2, &size, "[[[\"my title\", \"n\"], \"<i4\"]]"));
    char *s = NULL;
    CHECK_OK(nbr_dtype_from_hdf5(&s, t2));
    CHECK_STR("[[\"n\", \"<i4\"]]", s);
    free(s);
    H5Tclose(t2);
}

static void test_normalize(void)
{
    char *s = NULL;
    CHECK_OK(nbr_dtype_normalize(&s, "[ [\"a\",\"<i4\"] ,[\"b\",\"<f8\",[ 3 ,2]],"
                                     "[[\"T\",\"t\"],[[\"x\",\"|b1\"]]]]"));
    CHECK_STR("[[\"a\", \"<i4\"], [\"b\", \"<f8\", [3, 2]], [[\"T\", \"t\"], [[\"x\", \"|b1\"]]]]",
              s);
    free(s);
    CHECK_OK(nbr_dtype_normalize(&s, "[[\"\xc3\xa9\", \"<i4\"]]"));
    CHECK_STR("[[\"\\u00e9\", \"<i4\"]]", s);
    free(s);
    CHECK_OK(nbr_dtype_normalize(&s, "<f8"));
    CHECK_STR("<f8", s);
    free(s);
}

static void expect_invalid(nbr_status want, const char *dtype, const char *mention)
{
    hid_t t = 12345;
    size_t size = 99;
    int got = nbr_dtype_to_hdf5(&t, &size, dtype);
    if (got != want) {
        fprintf(stderr, "dtype '%s': got %s, expected %s (%s)\n", dtype, nbr_status_name(got),
                nbr_status_name(want), nbr_last_error());
        nbr_test_failures++;
        if (got == NBR_OK) H5Tclose(t);
        return;
    }
    CHECK(t == -1);
    const char *msg = nbr_last_error();
    if (!strstr(msg, "dtype '") || (strlen(dtype) < 300 && !strstr(msg, dtype)) ||
        (mention && !strstr(msg, mention))) {
        fprintf(stderr, "dtype '%s': message \"%s\" should name it%s%s\n", dtype, msg,
                mention ? " and say " : "", mention ? mention : "");
        nbr_test_failures++;
    }
    CHECK_STATUS(want, nbr_dtype_itemsize(&size, dtype));
}

static void test_errors(void)
{
    expect_invalid(NBR_EUNSUPPORTED, "|O", "object");
    expect_invalid(NBR_EUNSUPPORTED, "[[\"a\", \"<i4\"], [\"o\", \"|O\"]]", "object");
    expect_invalid(NBR_EINVAL, "", "empty");
    expect_invalid(NBR_EINVAL, "f8", NULL);
    expect_invalid(NBR_EINVAL, "=f8", "byte order");
    expect_invalid(NBR_EINVAL, "<f8x", "after the size");
    expect_invalid(NBR_EINVAL, "<f08", "leading zeros");
    expect_invalid(NBR_EINVAL, "<i1", "|i1");
    expect_invalid(NBR_EINVAL, "|i4", "'<' or '>'");
    expect_invalid(NBR_EINVAL, "<b1", "|b1");
    expect_invalid(NBR_EUNSUPPORTED, "<i3", NULL);
    expect_invalid(NBR_EUNSUPPORTED, "<f16", "long double");
    expect_invalid(NBR_EUNSUPPORTED, "<c32", NULL);
    expect_invalid(NBR_EINVAL, "<S5", "no byte order");
    expect_invalid(NBR_EINVAL, "|S0", NULL);
    expect_invalid(NBR_EINVAL, "|S", NULL);
    expect_invalid(NBR_EINVAL, "|S99999999999999999999", NULL);
    expect_invalid(NBR_EINVAL, "<U0", NULL);
    expect_invalid(NBR_EINVAL, "|U3", NULL);
    expect_invalid(NBR_EINVAL, "<U1073741824", "too long");
    expect_invalid(NBR_EINVAL, "<M8[xs]", "unit");
    expect_invalid(NBR_EINVAL, "<M8[1s]", NULL);
    expect_invalid(NBR_EINVAL, "<M8[ns", NULL);
    expect_invalid(NBR_EINVAL, "<M8[]", NULL);
    expect_invalid(NBR_EINVAL, "<M4", NULL);
    expect_invalid(NBR_EINVAL, "<x8", "kind");
    expect_invalid(NBR_EINVAL, "[", "JSON");
    expect_invalid(NBR_EINVAL, "[]", "non-empty");
    expect_invalid(NBR_EINVAL, "[[\"a\"]]", NULL);
    expect_invalid(NBR_EINVAL, "[[\"a\", \"<i4\"], [\"a\", \"<f8\"]]", "twice");
    expect_invalid(NBR_EINVAL, "[[\"\", \"<i4\"]]", "no name");
    expect_invalid(NBR_EINVAL, "[[\"\", \"|V4\"]]", "named field");
    expect_invalid(NBR_EINVAL, "[[\"a\", \"<i4\", []]]", "shape");
    expect_invalid(NBR_EINVAL, "[[\"a\", \"<i4\", [0]]]", "shape");
    expect_invalid(NBR_EINVAL, "[[\"a\", \"<i4\", [1.5]]]", "shape");
    expect_invalid(NBR_EINVAL, "[[\"a\", 5]]", "type");
    expect_invalid(NBR_EINVAL, "[[\"a\\u0000b\", \"<i4\"]]", "NUL");
    expect_invalid(NBR_EINVAL, "[[\"a\", \"<i4\", [65536, 65536]]]", "2 GiB");
    expect_invalid(NBR_EINVAL, "{\"names\": [\"a\"]}", NULL);

    char *s = (char *)1;
    CHECK_STATUS(NBR_EINVAL, nbr_dtype_from_hdf5(&s, (hid_t)-1));
    CHECK(s == NULL);
    CHECK_STATUS(NBR_EINVAL, nbr_dtype_to_hdf5(NULL, NULL, "<f8"));
    hid_t t;
    CHECK_STATUS(NBR_EINVAL, nbr_dtype_to_hdf5(&t, NULL, NULL));

    /* deep nesting is refused, not a stack overflow */
    char deep[2000] = "";
    size_t n = 0;
    for (int i = 0; i < 100; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "[[\"a\", ");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "\"<i4\"");
    for (int i = 0; i < 100; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "]]");
    expect_invalid(NBR_EINVAL, deep, "nested");
}

/* from_hdf5 on types other tools write. */
static void expect_from(const char *want, hid_t t)
{
    char *s = NULL;
    CHECK_OK(nbr_dtype_from_hdf5(&s, t));
    CHECK_STR(want, s);
    free(s);
    H5Tclose(t);
}

static void test_from_foreign_types(void)
{
    quiet_hdf5();
    expect_from("<i4", H5Tcopy(H5T_NATIVE_INT));
    expect_from("<u8", H5Tcopy(H5T_NATIVE_ULLONG));
    expect_from("|i1", H5Tcopy(H5T_NATIVE_SCHAR));
    expect_from("<f8", H5Tcopy(H5T_NATIVE_DOUBLE));
    expect_from(">f4", H5Tcopy(H5T_IEEE_F32BE));
    expect_from("|u1", H5Tcopy(H5T_NATIVE_B8));
    expect_from("<u2", H5Tcopy(H5T_STD_B16LE));

    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 12);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    expect_from("|S12", t);

    /* a non-bool enum reads as its base integer, as in h5py */
    t = H5Tenum_create(H5T_STD_I16BE);
    short a = 0, b = 7;
    H5Tenum_insert(t, "A", &a);
    H5Tenum_insert(t, "B", &b);
    expect_from(">i2", t);
    /* a bool enum on a wider base is still a bool */
    t = H5Tenum_create(H5T_NATIVE_INT);
    int f = 0, tr = 1;
    H5Tenum_insert(t, "FALSE", &f);
    H5Tenum_insert(t, "TRUE", &tr);
    expect_from("|b1", t);
    t = H5Tenum_create(H5T_NATIVE_INT8);
    signed char f8 = 0, t8 = 2;
    H5Tenum_insert(t, "FALSE", &f8);
    H5Tenum_insert(t, "TRUE", &t8);
    expect_from("|i1", t);

    /* h5py's opaque_dtype for datetime64 */
    t = H5Tcreate(H5T_OPAQUE, 8);
    H5Tset_tag(t, "NUMPY:<M8[us]");
    expect_from("<M8[us]", t);
    t = H5Tcreate(H5T_OPAQUE, 4);
    H5Tset_tag(t, "some tag");
    expect_from("|V4", t);

    /* a compound with gaps, built by hand in member order */
    t = H5Tcreate(H5T_COMPOUND, 32);
    H5Tinsert(t, "x", 4, H5T_NATIVE_INT);
    H5Tinsert(t, "y", 16, H5T_NATIVE_DOUBLE);
    expect_from(
        "[[\"\", \"|V4\"], [\"x\", \"<i4\"], [\"\", \"|V8\"], [\"y\", \"<f8\"], [\"\", \"|V8\"]]",
        t);
    /* complex under other names is a structure */
    t = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(t, "real", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "imag", 8, H5T_NATIVE_DOUBLE);
    expect_from("[[\"real\", \"<f8\"], [\"imag\", \"<f8\"]]", t);
    /* r, i of different types: not complex */
    t = H5Tcreate(H5T_COMPOUND, 12);
    H5Tinsert(t, "r", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "i", 8, H5T_NATIVE_FLOAT);
    expect_from("[[\"r\", \"<f8\"], [\"i\", \"<f4\"]]", t);
    /* an array member of an array */
    hsize_t d2[1] = {2}, d3[1] = {3};
    hid_t inner = H5Tarray_create2(H5T_NATIVE_SHORT, 1, d3);
    hid_t outer = H5Tarray_create2(inner, 1, d2);
    t = H5Tcreate(H5T_COMPOUND, 12);
    H5Tinsert(t, "m", 0, outer);
    H5Tclose(inner);
    H5Tclose(outer);
    expect_from("[[\"m\", \"<i2\", [2, 3]]]", t);

    /* what has no dtype */
    char *s = NULL;
    t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    CHECK_STATUS(NBR_EUNSUPPORTED, nbr_dtype_from_hdf5(&s, t));
    H5Tclose(t);
    t = H5Tvlen_create(H5T_NATIVE_INT);
    CHECK_STATUS(NBR_EUNSUPPORTED, nbr_dtype_from_hdf5(&s, t));
    H5Tclose(t);
    t = H5Tcopy(H5T_STD_REF_OBJ);
    CHECK_STATUS(NBR_EUNSUPPORTED, nbr_dtype_from_hdf5(&s, t));
    H5Tclose(t);
    t = H5Tcopy(H5T_NATIVE_LDOUBLE);
    CHECK_STATUS(NBR_EUNSUPPORTED, nbr_dtype_from_hdf5(&s, t));
    H5Tclose(t);
    /* out-of-order members: NumPy's descr cannot say it */
    t = H5Tcreate(H5T_COMPOUND, 8);
    H5Tinsert(t, "b", 4, H5T_NATIVE_INT);
    H5Tinsert(t, "a", 0, H5T_NATIVE_INT);
    int rc = nbr_dtype_from_hdf5(&s, t);
    /* HDF5 may keep members sorted by offset; then it is an ordinary struct */
    if (rc == NBR_OK) {
        CHECK_STR("[[\"a\", \"<i4\"], [\"b\", \"<i4\"]]", s);
        free(s);
        s = NULL;
    } else {
        CHECK(rc == NBR_EUNSUPPORTED);
    }
    H5Tclose(t);
    CHECK(s == NULL);
}

NBR_TEST_MAIN(TEST(test_plain_round_trips), TEST(test_hdf5_types_are_h5pys),
              TEST(test_unicode_and_datetime), TEST(test_structured), TEST(test_normalize),
              TEST(test_errors), TEST(test_from_foreign_types))
