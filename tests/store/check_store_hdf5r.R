# R's hdf5r (Debian's r-cran-hdf5r, serial HDF5, no nbrewind code) reads a
# chunk-deduplicated array of a store: the virtual dataset /objects/<id>
# whose chunks are in two segment files, found as an independent reader
# would (the manifests).  It must equal the raw C-order bytes store_writer.py
# saved.  Run from another directory than the store's: HDF5 finds the chunks'
# segments beside the file holding the virtual dataset.
# Usage: Rscript check_store_hdf5r.R STORE OUTDIR
suppressPackageStartupMessages(library(hdf5r))
args <- commandArgs(trailingOnly = TRUE)
stopifnot(length(args) == 2)
store <- args[1]
out <- args[2]
info <- strsplit(readLines(file.path(out, "float64_smooth_step.txt")), " ")[[1]]
id <- info[1]
rows <- as.integer(info[2])
cols <- as.integer(info[3])
# A manifest's text: the file, or the tail of the segment it is (format
# version 4: the JSON, its length as a little-endian u64, a 16-byte checksum,
# "NBRMANIF").
manifest_text <- function(path) {
  size <- file.info(path)$size
  con <- file(path, "rb")
  on.exit(close(con))
  if (size >= 32) {
    seek(con, size - 32)
    trailer <- readBin(con, "raw", 32)
    if (identical(rawToChar(trailer[25:32]), "NBRMANIF")) {
      n <- sum(as.numeric(trailer[1:8]) * 256^(0:7))
      seek(con, size - 32 - n)
      return(rawToChar(readBin(con, "raw", n)))
    }
  }
  seek(con, 0)
  rawToChar(readBin(con, "raw", size))
}
# The manifest that first lists the object names its segment.
segment <- NULL
for (m in sort(list.files(file.path(store, "checkpoints"), full.names = TRUE))) {
  text <- manifest_text(m)
  at <- regexpr(paste0("\"", id, "\": \\{\"kind\": \"array\", \"segment\": \"[^\"]+\""), text)
  if (at > 0) {
    hit <- regmatches(text, at)
    segment <- sub(".*\"segment\": \"([^\"]+)\"$", "\\1", hit)
    break
  }
}
stopifnot(!is.null(segment))
setwd(tempdir())
f <- H5File$new(file.path(store, segment), mode = "r")
d <- f[[paste0("objects/", id)]]
x <- d$read()
f$close_all()
# hdf5r reverses the dimensions, so R's column-major order is C's row-major.
stopifnot(identical(dim(x), c(cols, rows)))
want <- readBin(file.path(out, "float64_smooth_step.f8"), "double", n = rows * cols, size = 8,
                endian = "little")
stopifnot(identical(as.vector(x), want))
cat(sprintf("hdf5r read the virtual dataset %s (%d x %d) bit-identical\n", id, rows, cols))
