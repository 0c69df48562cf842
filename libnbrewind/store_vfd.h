/* store_vfd.h - the HDF5 file driver segments are written through (private).
 *
 * HDF5 1.10 does not survive write errors well: a failed flush can leave a
 * file that can no longer be closed (the library then crashes at exit), and
 * a chunk whose flush failed inside H5Dget_storage_size is dropped as if
 * written.  So HDF5 never sees a write error here: this driver (POSIX
 * pread/pwrite, like HDF5's sec2) records the first one in the caller's
 * `*io_errno`, reports success, and drops every later write.  The store
 * checks `*io_errno` after each step and throws the segment away. */
#ifndef NBR_STORE_VFD_H
#define NBR_STORE_VFD_H

#include <hdf5.h>

#include "error.h"

/* A file-access property list that writes through the driver and records
 * the first I/O error in `*io_errno` (which must outlive the file).
 * H5Pclose it.  Negative on failure. */
hid_t nbr_vfd_fapl(int *io_errno);

#endif
