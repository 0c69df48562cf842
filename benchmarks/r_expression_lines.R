# Prints "file<TAB>first_line<TAB>last_line" for every top-level expression of
# each R file named on standard input; files R cannot parse are skipped.
# Used by make_corpus.py to cut R files into notebook-sized cells.
for (path in readLines(file("stdin"))) {
  exprs <- tryCatch(parse(path, keep.source = TRUE), error = function(e) NULL)
  if (is.null(exprs)) next
  for (ref in attr(exprs, "srcref")) {
    cat(path, ref[1], ref[3], sep = "\t")
    cat("\n")
  }
}
