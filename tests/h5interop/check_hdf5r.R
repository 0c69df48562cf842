# R's hdf5r (Debian's r-cran-hdf5r, on the serial HDF5) reads the file
# h5interop.c wrote, with no nbrewind code: HDF5 finds Debian's Blosc plugin
# in its default directory.  Every /nbr/<name> (Blosc-compressed) must read
# as identical() to /raw/<name> (the same data unfiltered), whatever R type
# hdf5r makes of it.  A type hdf5r cannot read even unfiltered is reported
# and skipped: that is hdf5r's limit, not the file's.
suppressPackageStartupMessages(library(hdf5r))
args <- commandArgs(trailingOnly = TRUE)
stopifnot(length(args) == 1, Sys.getenv("HDF5_PLUGIN_PATH") == "")
# Not read at all, because hdf5r 1.3.8 fails on them even without any filter:
#  - void5 (|V5, an H5T_OPAQUE of 5 bytes): hdf5r allocates one byte per
#    element for opaque data and HDF5 writes 5, a heap overflow that later
#    aborts R ("free(): invalid size");
#  - struct_of_structs (a compound member that is an array of compounds):
#    "not safe to return vector pointer".
hdf5r_cannot <- c("void5", "struct_of_structs")
f <- H5File$new(args[1], mode = "r")
failed <- 0
compared <- 0
for (n in names(f[["nbr"]])) {
  if (n %in% hdf5r_cannot) {
    cat(sprintf("skip %-18s (hdf5r cannot read this type, filtered or not)\n", n))
    next
  }
  raw <- tryCatch(f[[paste0("raw/", n)]]$read(), error = function(e) e)
  if (inherits(raw, "error")) {
    cat(sprintf("skip %-18s hdf5r cannot read this type even unfiltered: %s\n", n,
                conditionMessage(raw)))
    next
  }
  d <- f[[paste0("nbr/", n)]]
  got <- tryCatch(d$read(), error = function(e) e)
  dtype <- d$attr_open("nbr_dtype")$read()
  if (inherits(got, "error")) {
    cat(sprintf("FAIL %-18s %s: %s\n", n, dtype, conditionMessage(got)))
    failed <- failed + 1
  } else if (!identical(got, raw)) {
    cat(sprintf("FAIL %-18s %s: Blosc data differs from the unfiltered copy\n", n, dtype))
    failed <- failed + 1
  } else {
    compared <- compared + 1
    cat(sprintf("ok   %-18s %-10s -> R %s %s\n", n, substr(dtype, 1, 10), class(got)[1],
                paste(dim(got), collapse = "x")))
  }
}
# the C shape (100, 12) is R's 12 x 100 (column-major), the same bytes
stopifnot(identical(dim(f[["nbr/float64"]]$read()), c(12L, 100L)))
maps <- readLines("/proc/self/maps")
plugins <- unique(sub(".* ", "", grep("/plugins/.*blosc", maps, value = TRUE, ignore.case = TRUE)))
cat("plugin:", plugins, "\n")
if (!any(startsWith(plugins, "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins/"))) {
  cat("FAIL: Debian's Blosc plugin was not loaded\n")
  failed <- failed + 1
}
if (any(grepl("nbrewind", maps))) {
  cat("FAIL: nbrewind code in the R process\n")
  failed <- failed + 1
}
f$close_all()
cat(sprintf("%d datasets identical, %d failed\n", compared, failed))
if (failed > 0 || compared < 30) quit(status = 1)
