/* dtype.h - NumPy dtypes as HDF5 types and back (private).
 *
 * A dtype is written the way NumPy writes it: `dtype.str` for plain types
 * ("<f8", "|b1", "<U10", "<M8[ns]") and `dtype.descr` as JSON for structured
 * types ([["a", "<i4"], ["b", "<f8", [3]]]).  docs/store-format.md gives the
 * mapping; the store keeps the dtype string as an attribute so that types
 * HDF5 has no twin for (datetime units, UCS-4 strings) come back exactly. */
#ifndef NBR_DTYPE_H
#define NBR_DTYPE_H

#include <hdf5.h>
#include <stddef.h>

#include "error.h"

/* The HDF5 type for `dtype` and its element size in bytes (NumPy's itemsize).
 * *out is owned by the caller (H5Tclose).  NBR_EINVAL, naming the dtype and
 * what is wrong with it, for a malformed or unsupported dtype (object "|O"
 * included). */
nbr_status nbr_dtype_to_hdf5(hid_t *out, size_t *itemsize, const char *dtype);

/* The element size of `dtype` without building an HDF5 type. */
nbr_status nbr_dtype_itemsize(size_t *out, const char *dtype);

/* The one spelling of `dtype`: plain strings are returned as they are (only
 * NumPy's own spelling is accepted), a structured dtype's JSON is rewritten
 * the way Python's json.dumps(dtype.descr) writes it.  *out is malloc'd
 * (free).  Errors as nbr_dtype_to_hdf5. */
nbr_status nbr_dtype_normalize(char **out, const char *dtype);

/* The dtype string NumPy would give a dataset of HDF5 type `type` (what h5py
 * reads), for datasets written by other tools.  *out is malloc'd (free). */
nbr_status nbr_dtype_from_hdf5(char **out, hid_t type);

#endif
