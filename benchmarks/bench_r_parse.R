# Baseline for bench_analysis on R cells: R's own parser on the same cells.
# R's clock ticks in milliseconds, so the whole corpus is timed per pass and
# the mean per cell is reported (the fastest of PASSES passes, as one JSON
# object).  Usage: Rscript bench_r_parse.R CORPUS [PASSES]
args <- commandArgs(trailingOnly = TRUE)
passes <- if (length(args) > 1) as.integer(args[2]) else 20L
raw <- readBin(args[1], "raw", file.size(args[1]))
ends <- c(which(raw == as.raw(0)), length(raw) + 1L)
starts <- c(1L, head(ends, -1L) + 1L)
cells <- mapply(function(s, e) rawToChar(raw[seq_len(e - s) + s - 1L]), starts, ends)
parse_all <- function() for (cell in cells) parse(text = cell, keep.source = FALSE)
parse_all()  # warm-up, untimed
seconds <- vapply(seq_len(passes), function(i) system.time(parse_all())[["elapsed"]], numeric(1))
cat(sprintf('{"cells": %d, "passes": %d, "r_parse": {"mean_us": %.2f}}\n',
            length(cells), passes, min(seconds) / length(cells) * 1e6))
