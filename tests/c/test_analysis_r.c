/* test_analysis_r.c - what the analysis reports for R cells.
 *
 * Each case is one behaviour of docs/analysis-r.md.  Columns: name, source,
 * defs, uses, may_mutate, deletes, imports, functions, classes, flags, errors
 * (NULL = not checked, "" = must be empty; flags are exact "line:column"
 * positions). */
#include <stdbool.h>
#include <stdlib.h>

#include "analysis_cases.h"
#include "nbr_test.h"

#define N NULL

static const analysis_case cases[] = {
    /* ---- assignment forms ---- */
    {"left arrow binds", "x <- 1\n", "x", "", "", "", "", "", "", "", 0},
    {"equals binds", "x = 1\n", "x", "", "", "", "", "", "", "", 0},
    {"right arrow binds", "1 -> x\n", "x", "", "", "", "", "", "", "", 0},
    {"value is read before binding", "x <- x + 1\n", "x", "x", "", "", "", "", "", "", 0},
    {"bound then read", "x <- 1\ny <- x * 2\n", "x y", "", "", "", "", "", "", "", 0},
    {"read then bound", "y <- x\nx <- 1\n", "x y", "x", "", "", "", "", "", "", 0},
    {"string target binds", "\"x\" <- 1\n", "x", "", "", "", "", "", "", "", 0},
    {"single-quoted string target binds", "'x' = 2\n", "x", "", "", "", "", "", "", "", 0},
    {"raw string target binds", "r\"(x)\" <- 1\n", "x", "", "", "", "", "", "", "", 0},
    {"backquoted name", "`2x` <- 1\nprint(`2x`)\n", "2x", "print", "", "", "", "", "", "", 0},
    {"unicode name", "\xcf\x80 <- 3.14\nr <- \xcf\x80 * 2\n", "\xcf\x80 r", "", "", "", "", "", "",
     "", 0},
    {"chained assignment binds both", "a <- b <- f()\n", "a b", "f", "", "", "", "", "", "", 0},
    {"chained right assignment", "1 -> a -> b\n", "a b", "", "", "", "", "", "", "", 0},
    {"assignment in parentheses", "(x <- 5)\nx\n", "x", "", "", "", "", "", "", "", 0},
    {"super assignment at top level is flagged", "x <<- 1\n", "x", "", "", "", "", "", "", "1:3",
     0},
    {"right super assignment at top level is flagged", "1 ->> y\n", "y", "", "", "", "", "", "",
     "1:3", 0},
    {"assignment inside a call argument binds", "suppressWarnings(n <- f())\nn\n", "n",
     "suppressWarnings f", "", "", "", "", "", "", 0},

    /* ---- assign() and friends ---- */
    {"assign with a literal name binds", "assign(\"x\", 1)\nx\n", "x", "assign", "", "", "", "", "",
     "", 0},
    {"assign reads its value first", "assign(\"x\", x + 1)\n", "x", "assign x", "", "", "", "", "",
     "", 0},
    {"assign with a computed name is flagged", "assign(nm, 1)\n", "", "assign nm", "", "", "", "",
     "", "1:1", 0},
    {"assign in a loop with paste0 is flagged", "for (i in 1:3) assign(paste0(\"v\", i), i)\n", "i",
     "assign paste0", "", "", "", "", "", "1:16", 0},
    {"assign into a named environment mutates it", "assign(\"x\", 1, envir = e)\n", "", "assign e",
     "e", "", "", "", "", "", 0},
    {"assign into the global environment binds", "assign(\"x\", 1, envir = .GlobalEnv)\n", "x",
     "assign", "", "", "", "", "", "", 0},
    {"assign into an unknown environment is flagged", "assign(\"x\", 1, envir = parent.frame())\n",
     "", "assign parent.frame", "", "", "", "", "", "1:1", 0},
    {"delayedAssign with a literal name binds", "delayedAssign(\"lazy\", compute())\n", "lazy",
     "delayedAssign compute", "", "", "", "", "", "", 0},

    /* ---- replacement functions ---- */
    {"names replacement defines uses and mutates", "names(x) <- c(\"a\", \"b\")\n", "x",
     "names<- c x", "x", "", "", "", "", "", 0},
    {"dollar replacement", "x$a <- 1\n", "x", "x", "x", "", "", "", "", "", 0},
    {"subset replacement reads the index", "x[i] <- v\n", "x", "v i x", "x", "", "", "", "", "", 0},
    {"double bracket replacement", "x[[\"k\"]] <- v\n", "x", "v x", "x", "", "", "", "", "", 0},
    {"attr replacement", "attr(x, \"units\") <- \"m\"\n", "x", "attr<- x", "x", "", "", "", "", "",
     0},
    {"slot replacement", "obj@s <- 1\n", "obj", "obj", "obj", "", "", "", "", "", 0},
    {"nested replacement calls the getter too", "names(x)[2] <- \"b\"\n", "x", "names<- names x",
     "x", "", "", "", "", "", 0},
    {"replacement through a dollar", "levels(df$col) <- c(\"a\", \"b\")\n", "df", "levels<- c df",
     "df", "", "", "", "", "", 0},
    {"deep replacement chain has one root", "df$a$b[[1]] <- 0\n", "df", "df", "df", "", "", "", "",
     "", 0},
    {"replacement after binding", "x <- list()\nx$a <- 1\n", "x", "list", "x", "", "", "", "", "",
     0},
    {"environment element replacement", "e[[\"x\"]] <- v\n", "e", "v e", "e", "", "", "", "", "",
     0},
    {"namespaced replacement function", "base::names(x) <- y\n", "x", "y x", "x", "", "base", "",
     "", "", 0},
    {"super replacement at top level", "x$a <<- 1\n", "x", "x", "x", "", "", "", "", "1:5", 0},

    /* ---- flow: what is definitely bound ---- */
    {"if without else is not definite", "if (c) x <- 1\nprint(x)\n", "x", "c print x", "", "", "",
     "", "", "", 0},
    {"if else binding on both branches", "if (c) x <- 1 else x <- 2\nx\n", "x", "c", "", "", "", "",
     "", "", 0},
    {"if else binding on one branch only", "if (c) { x <- 1; y <- 2 } else { x <- 3 }\nx + y\n",
     "x y", "c y", "", "", "", "", "", "", 0},
    {"else if chain without final else", "if (a) x <- 1 else if (b) x <- 2\nx\n", "x", "a b x", "",
     "", "", "", "", "", 0},
    {"stop ends a branch", "if (ok) y <- 1 else stop(\"bad\")\ny\n", "y", "ok stop", "", "", "", "",
     "", "", 0},
    {"condition binding is definite", "if ((n <- length(x)) > 0) print(n)\nn\n", "n",
     "length x print", "", "", "", "", "", "", 0},
    {"for variable is definite after the loop", "for (i in seq_len(n)) {}\ni\n", "i", "seq_len n",
     "", "", "", "", "", "", 0},
    {"for body binding is not definite", "for (v in vs) last <- v\nlast\n", "v last", "vs last", "",
     "", "", "", "", "", 0},
    {"for body reads before its own binding", "for (v in vs) { print(acc); acc <- v }\n", "v acc",
     "vs print acc", "", "", "", "", "", "", 0},
    {"while body is not definite", "while (go) { z <- 1 }\nz\n", "z", "go z", "", "", "", "", "",
     "", 0},
    {"while condition binding is definite", "while ((line <- next_line()) != \"\") {}\nline\n",
     "line", "next_line", "", "", "", "", "", "", 0},
    {"repeat body is not definite", "repeat { z <- 1; break }\nz\n", "z", "z", "", "", "", "", "",
     "", 0},
    {"short circuit and", "ok && (b <- TRUE)\nb\n", "b", "ok b", "", "", "", "", "", "", 0},
    {"short circuit or", "ok || (b <- FALSE)\nb\n", "b", "ok b", "", "", "", "", "", "", 0},
    {"braces are sequential", "{ x <- 1; y <- x }\ny\n", "x y", "", "", "", "", "", "", "", 0},
    {"switch alternatives are not definite", "switch(k, a = r <- 1, b = r <- 2)\nr\n", "r",
     "switch k r", "", "", "", "", "", "", 0},
    {"try body is not definite", "try(v <- f())\nv\n", "v", "try f v", "", "", "", "", "", "", 0},
    {"tryCatch finally is definite", "tryCatch(f(), finally = done <- TRUE)\ndone\n", "done",
     "tryCatch f", "", "", "", "", "", "", 0},
    {"rm unbinds", "x <- 1\nrm(x)\nx\n", "x", "rm x", "", "x", "", "", "", "", 0},
    {"next ends a path in a loop body", "for (v in vs) { if (skip) next else w <- v; print(w) }\n",
     "v w", "vs skip print", "", "", "", "", "", "", 0},

    /* ---- reads ---- */
    {"call reads the function name", "print(x)\n", "", "print x", "", "", "", "", "", "", 0},
    {"argument names are not uses", "f(x = 1, y = a)\n", "", "f a", "", "", "", "", "", "", 0},
    {"empty argument value", "f(a = , b)\n", "", "f b", "", "", "", "", "", "", 0},
    {"dollar member is not a use", "df$col\n", "", "df", "", "", "", "", "", "", 0},
    {"slot name is not a use", "obj@slot\n", "", "obj", "", "", "", "", "", "", 0},
    {"namespace call reads nothing", "pkg::f(x)\n", "", "x", "", "", "pkg", "", "", "", 0},
    {"triple colon reads nothing", "pkg:::hidden\n", "", "", "", "", "pkg", "", "", "", 0},
    {"namespace value", "flt <- dplyr::filter\n", "flt", "", "", "", "dplyr", "", "", "", 0},
    {"string callee reads the function", "\"print\"(x)\n", "", "print x", "", "", "", "", "", "",
     0},
    {"quote is not evaluated", "q <- quote(a + b)\n", "q", "quote", "", "", "", "", "", "", 0},
    {"expression is not evaluated", "e <- expression(a * b)\n", "e", "expression", "", "", "", "",
     "", "", 0},
    {"substitute is not evaluated", "substitute(x)\n", "", "substitute", "", "", "", "", "", "", 0},
    {"bquote evaluates only unquoted parts", "bquote(a + .(b) + ..(cs), splice = TRUE)\n", "",
     "bquote b cs", "", "", "", "", "", "", 0},
    {"formula operands are uses", "lm(y ~ x, data = d)\n", "", "lm y x d", "", "", "", "", "", "",
     0},
    {"one-sided formula", "~ a + b\n", "", "a b", "", "", "", "", "", "", 0},
    {"help operator reads nothing", "?mean\nmethods?show\n", "", "", "", "", "", "", "", "", 0},
    {"native pipe", "x |> f(y)\n", "", "x f y", "", "", "", "", "", "", 0},
    {"pipe placeholder is not a name", "x |> f(y = _)\n", "", "x f", "", "", "", "", "", "", 0},
    {"magrittr pipe", "x %>% f\n", "", "x f", "", "", "", "", "", "", 0},
    {"assignment pipe rebinds", "x %<>% sort()\n", "x", "x sort", "", "", "", "", "", "", 0},
    {"walrus column is not a use and changes the table", "DT[, a := b * 2]\n", "", "DT b", "DT", "",
     "", "", "", "", 0},
    {"functional walrus changes the table", "DT[, `:=`(a = 1)]\n", "", "DT :=", "DT", "", "", "",
     "", "", 0},
    {"immediately invoked function", "(function(x) x + k)(1)\n", "", "k", "", "", "", "", "", "",
     0},
    {"callee that is a call", "make()(x)\n", "", "make x", "", "", "", "", "", "", 0},
    {"literals and keywords read nothing",
     "x <- c(TRUE, FALSE, NA, NULL, Inf, NaN, 1L, 2i, 0x10, NA_integer_)\n", "x", "c", "", "", "",
     "", "", "", 0},
    {"comments are ignored", "# y <- z\nx <- 1 # w\n", "x", "", "", "", "", "", "", "", 0},
    {"unary operators read their operand", "y <- -x + !z\n", "y", "x z", "", "", "", "", "", "", 0},
    {"long operator chain", "s <- a + b - c * d / e ^ f %% g %in% h : i\n", "s",
     "a b c d e f g h i", "", "", "", "", "", "", 0},

    /* ---- functions ---- */
    {"function definition", "f <- function(a, b = 1) a + b + k\n", "f", "k", "", "", "",
     "f: r=k w=", "", "", 0},
    {"function assigned with equals", "f = function() g()\n", "f", "g", "", "", "", "f: r=g w=", "",
     "", 0},
    {"right-assigned function in parentheses", "(function(x) x * m) -> h\n", "h", "m", "", "", "",
     "h: r=m w=", "", "", 0},
    {"right arrow inside a function body is local", "g <- function(x) x -> y\n", "g", "", "", "",
     "", "g: r= w=", "", "", 0},
    {"lambda", "sq <- \\(x) x^2 + offset\n", "sq", "offset", "", "", "", "sq: r=offset w=", "", "",
     0},
    {"function assigned to a string name", "\"f\" <- function() z\n", "f", "z", "", "", "",
     "f: r=z w=", "", "", 0},
    {"function assigned with assign", "assign(\"f\", function() z)\n", "f", "assign z", "", "", "",
     "f: r=z w=", "", "", 0},
    {"recursive function does not use itself",
     "fact <- function(n) if (n <= 1) 1 else n * fact(n - 1)\n", "fact", "", "", "", "",
     "fact: r=fact w=", "", "", 0},
    {"free variable bound before the definition", "k <- 2\nf <- function(x) x * k\n", "k f", "", "",
     "", "", "f: r=k w=", "", "", 0},
    {"free variable bound after the definition", "f <- function() y\ny <- 1\n", "f y", "y", "", "",
     "", "f: r=y w=", "", "", 0},
    {"parameters are local", "f <- function(x, ...) g(x, ...)\n", "f", "g", "", "", "",
     "f: r=g w=", "", "", 0},
    {"default reads a parameter", "f <- function(a, b = a * 2) b\n", "f", "", "", "", "",
     "f: r= w=", "", "", 0},
    {"default reads a global", "f <- function(a = base_val) a\n", "f", "base_val", "", "", "",
     "f: r=base_val w=", "", "", 0},
    {"local assignment", "f <- function() { t <- 1; t }\n", "f", "", "", "", "", "f: r= w=", "", "",
     0},
    {"conditionally local is free", "f <- function() { if (c) y <- 1; y }\n", "f", "c y", "", "",
     "", "f: r=c,y w=", "", "", 0},
    {"read before the local binding is free", "f <- function() { print(z); z <- 1 }\n", "f",
     "print z", "", "", "", "f: r=print,z w=", "", "", 0},
    {"nested function resolves through the enclosing function",
     "f <- function() { a <- 1; g <- function() a + b; g() }\n", "f", "b", "", "", "",
     "f: r=b w=", "", "", 0},
    {"nested function sees a later enclosing binding",
     "f <- function() { g <- function() y; y <- 1; g() }\n", "f", "", "", "", "", "f: r= w=", "",
     "", 0},
    {"nested function sees enclosing parameters", "f <- function(n) function(x) x^n\n", "f", "", "",
     "", "", "f: r= w=", "", "", 0},
    {"super assignment writes a global", "inc <- function() count <<- count + 1\n", "inc", "count",
     "", "", "", "inc: r=count w=count", "", "", 0},
    {"super assignment to an enclosing local",
     "make <- function() { n <- 0; function() n <<- n + 1 }\n", "make", "", "", "", "",
     "make: r= w=", "", "", 0},
    {"super assignment skips the function's own local", "f <- function() { v <- 1; v <<- 2 }\n",
     "f", "", "", "", "", "f: r= w=v", "", "", 0},
    {"assign to the global environment writes",
     "f <- function() assign(\"g\", 1, envir = .GlobalEnv)\n", "f", "assign", "", "", "",
     "f: r=assign w=g", "", "", 0},
    {"assign to globalenv() writes", "f <- function(v) assign(\"cache\", v, envir = globalenv())\n",
     "f", "assign", "", "", "", "f: r=assign w=cache", "", "", 0},
    {"assign without envir in a function is local", "f <- function() { assign(\"tmp\", 1); tmp }\n",
     "f", "assign", "", "", "", "f: r=assign w=", "", "", 0},
    {"replacement on a global writes it", "f <- function() cfg$debug <- TRUE\n", "f", "cfg", "", "",
     "", "f: r=cfg w=cfg", "", "", 0},
    {"replacement on a local does not write", "f <- function() { l <- list(); l$a <- 1; l }\n", "f",
     "list", "", "", "", "f: r=list w=", "", "", 0},
    {"method call on a global writes it", "f <- function() logger$log(\"x\")\n", "f", "logger", "",
     "", "", "f: r=logger w=logger", "", "", 0},
    {"method call on a parameter does not write", "f <- function(obj) obj$reset()\n", "f", "", "",
     "", "", "f: r= w=", "", "", 0},
    {"rm of a global from a function writes it",
     "f <- function() rm(\"tmp\", envir = .GlobalEnv)\n", "f", "rm", "", "", "", "f: r=rm w=tmp",
     "", "", 0},
    {"rm in a function is local", "f <- function(x) { rm(x); 1 }\n", "f", "rm", "", "", "",
     "f: r=rm w=", "", "", 0},
    {"function defined twice has the union", "f <- function() a\nf <- function() b\n", "f", "a b",
     "", "", "", "f: r=a,b w=", "", "", 0},
    {"two functions", "f <- function() a\ng <- function() b\n", "f g", "a b", "", "", "",
     "f: r=a w=; g: r=b w=", "", "", 0},
    {"function defined inside if", "if (ok) h <- function() z\n", "h", "ok z", "", "", "",
     "h: r=z w=", "", "", 0},
    {"nested function is not reported", "f <- function() { g <- function() 1; g() }\n", "f", "", "",
     "", "", "f: r= w=", "", "", 0},
    {"anonymous function reads are uses", "lapply(xs, function(x) x + k)\n", "", "lapply xs k", "",
     "", "", "", "", "", 0},
    {"anonymous function super assignment binds", "lapply(xs, function(x) total <<- total + x)\n",
     "total", "lapply xs total", "", "", "", "", "", "", 0},
    {"anonymous function method call mutates", "lapply(xs, function(x) acc$add(x))\n", "",
     "lapply xs acc", "acc", "", "", "", "", "", 0},
    {"eval in a function body is flagged", "f <- function(e) eval(e)\n", "f", "eval", "", "", "",
     "f: r=eval w=", "", "1:18", 0},
    {"R6 methods see self, private and super",
     "Counter <- R6Class(\"Counter\", public = list(n = 0, add = function(by = step) {\n"
     "  self$n <- self$n + by; private$log(by); invisible(self) }))\n",
     "Counter", "R6Class list step invisible", "", "", "", "", "", "", 0},
    {"RefClass field assignment stays in the object",
     "Account <- setRefClass(\"Account\", fields = list(balance = \"numeric\"),\n"
     "  methods = list(deposit = function(x) { balance <<- balance + x; .self$log() }))\n",
     "Account", "setRefClass list balance", "", "", "", "", "", "", 0},
    {"function writes through an R6 self", "f <- function() { self$n <- self$n + 1 }\n", "f",
     "self", "", "", "", "f: r=self w=self", "", "", 0},

    /* ---- may_mutate ---- */
    {"method call mutates the receiver", "model$fit(x)\n", "", "model x", "model", "", "", "", "",
     "", 0},
    {"nested method call mutates the root", "app$db$insert(row)\n", "", "app row", "app", "", "",
     "", "", "", 0},
    {"method call through a subset mutates the root", "objs[[1]]$run()\n", "", "objs", "objs", "",
     "", "", "", "", 0},
    {"plain argument is not mutated", "process(df)\n", "", "process df", "", "", "", "", "", "", 0},
    {"data.table setkey mutates", "setkey(dt, id)\n", "", "setkey dt id", "dt", "", "", "", "", "",
     0},
    {"list2env mutates its environment", "list2env(vals, envir = e)\n", "", "list2env vals e", "e",
     "", "", "", "", "1:1", 0},
    {"local with envir is flagged and mutates", "local(x <- 1, envir = e)\n", "", "local e", "e",
     "", "", "", "", "1:1", 0},
    {"local with a new environment is not flagged", "local(y <- 1, envir = new.env())\n", "",
     "local new.env", "", "", "", "", "", "", 0},
    {"rm in a named environment mutates it", "rm(\"x\", envir = e)\n", "", "rm e", "e", "", "", "",
     "", "", 0},
    {"eval with envir mutates it", "eval(ex, envir = e)\n", "", "eval ex e", "e", "", "", "", "",
     "1:1", 0},

    /* ---- deletes ---- */
    {"rm one name", "rm(x)\n", "", "rm", "", "x", "", "", "", "", 0},
    {"rm names and strings", "rm(a, \"b\")\n", "", "rm", "", "a b", "", "", "", "", 0},
    {"rm list of literals", "rm(list = c(\"a\", \"b\"))\n", "", "rm c", "", "a b", "", "", "", "",
     0},
    {"rm list of one literal", "rm(list = \"a\")\n", "", "rm", "", "a", "", "", "", "", 0},
    {"remove is rm", "remove(z)\n", "", "remove", "", "z", "", "", "", "", 0},
    {"rm of ls() is flagged", "rm(list = ls())\n", "", "rm ls", "", "", "", "", "", "1:1", 0},
    {"rm of a computed list is flagged", "rm(list = to_drop)\n", "", "rm to_drop", "", "", "", "",
     "", "1:1", 0},
    {"rm of a partly literal list is flagged", "rm(list = c(\"a\", b))\n", "", "rm c b", "", "", "",
     "", "", "1:1", 0},
    {"namespaced rm", "base::rm(x)\n", "", "", "", "x", "base", "", "", "", 0},

    /* ---- imports ---- */
    {"library with a bare name", "library(ggplot2)\n", "", "library", "", "", "ggplot2", "", "", "",
     0},
    {"library with a string", "library(\"dplyr\")\n", "", "library", "", "", "dplyr", "", "", "",
     0},
    {"library with a named package argument", "library(package = tidyr)\n", "", "library", "", "",
     "tidyr", "", "", "", 0},
    {"require", "require(data.table)\n", "", "require", "", "", "data.table", "", "", "", 0},
    {"requireNamespace", "requireNamespace(\"jsonlite\", quietly = TRUE)\n", "", "requireNamespace",
     "", "", "jsonlite", "", "", "", 0},
    {"loadNamespace", "loadNamespace(\"Matrix\")\n", "", "loadNamespace", "", "", "Matrix", "", "",
     "", 0},
    {"library character.only with a variable is flagged", "library(pkg, character.only = TRUE)\n",
     "", "library pkg", "", "", "", "", "", "1:1", 0},
    {"library character.only with a string", "library(\"x\", character.only = TRUE)\n", "",
     "library", "", "", "x", "", "", "", 0},
    {"requireNamespace with a variable is flagged", "requireNamespace(p)\n", "",
     "requireNamespace p", "", "", "", "", "", "1:1", 0},
    {"library inside a function body", "f <- function() library(shiny)\n", "f", "library", "", "",
     "shiny", "f: r=library w=", "", "", 0},
    {"namespace inside a function body", "f <- function() jsonlite::toJSON(x)\n", "f", "x", "", "",
     "jsonlite", "f: r=x w=", "", "", 0},
    {"library wrapped in another call", "suppressPackageStartupMessages(library(dplyr))\n", "",
     "suppressPackageStartupMessages library", "", "", "dplyr", "", "", "", 0},

    /* ---- flags ---- */
    {"eval is flagged", "eval(expr)\n", "", "eval expr", "", "", "", "", "", "1:1", 0},
    {"eval of parse gives two flags", "eval(parse(text = s))\n", "", "eval parse s", "", "", "", "",
     "", "1:1 1:6", 0},
    {"evalq is flagged", "evalq(x <- 1, e)\n", N, N, N, "", "", "", "", "1:1", 0},
    {"get with a literal is flagged and read", "v <- get(\"x\")\n", "v", "get x", "", "", "", "",
     "", "1:6", 0},
    {"get0 with a variable is flagged", "get0(nm)\n", "", "get0 nm", "", "", "", "", "", "1:1", 0},
    {"mget reads literal names", "mget(c(\"a\", \"b\"))\n", "", "mget c a b", "", "", "", "", "",
     "1:1", 0},
    {"exists with a literal is a read", "if (!exists(\"cache\")) cache <- load_it()\n", "cache",
     "exists cache load_it", "", "", "", "", "", "", 0},
    {"exists with a variable is flagged", "exists(nm)\n", "", "exists nm", "", "", "", "", "",
     "1:1", 0},
    {"attach is flagged", "attach(df)\n", "", "attach df", "", "", "", "", "", "1:1", 0},
    {"source is flagged", "source(\"utils.R\")\n", "", "source", "", "", "", "", "", "1:1", 0},
    {"sys.source is flagged", "sys.source(f, envir = e)\n", "", "sys.source f e", "e", "", "", "",
     "", "1:1", 0},
    {"sys.function is flagged", "f <- function() sys.function()\n", "f", "sys.function", "", "", "",
     "f: r=sys.function w=", "", "1:17", 0},
    {"sys.call is not flagged", "f <- function() sys.call()\n", "f", "sys.call", "", "", "",
     "f: r=sys.call w=", "", "", 0},
    {"load is flagged", "load(\"data.RData\")\n", "", "load", "", "", "", "", "", "1:1", 0},
    {"str2lang is flagged", "e <- str2lang(s)\n", "e", "str2lang s", "", "", "", "", "", "1:6", 0},
    {"do.call with a string reads the function", "do.call(\"rbind\", parts)\n", "",
     "do.call rbind parts", "", "", "", "", "", "", 0},
    {"do.call of assign is flagged", "do.call(\"assign\", list(\"x\", 1))\n", "",
     "do.call assign list", "", "", "", "", "", "1:1", 0},
    {"flag position on a later line", "x <- 1\n  y <- eval(e)\n", "x y", "eval e", "", "", "", "",
     "", "2:8", 0},
    {"super assignment position", "f()\nz <<- 2\n", "z", "f", "", "", "", "", "", "2:3", 0},
    {"super assignment in a function is not flagged", "f <- function() z <<- 1\n", "f", "", "", "",
     "", "f: r= w=z", "", "", 0},
    {"flag inside a multibyte line counts bytes", "s <- \"\xc3\xa9\"; eval(e)\n", "s", "eval e", "",
     "", "", "", "", "1:12", 0},

    /* ---- new environments: local(), with() ---- */
    {"with body is its own environment", "with(df, y <- a + b)\n", "", "with df a b", "", "", "",
     "", "", "", 0},
    {"local body is its own environment", "local({ tmp <- 1; out <- tmp + k })\n", "", "local k",
     "", "", "", "", "", "", 0},
    {"local super assignment binds in the cell", "local(counter <<- 0)\n", "counter", "local", "",
     "", "", "", "", "", 0},
    {"function made in local resolves local names", "f <- local({ n <- 0; function() n + k })\n",
     "f", "local k", "", "", "", "", "", "", 0},
    {"within body is its own environment", "df2 <- within(df, z <- x + 1)\n", "df2", "within df x",
     "", "", "", "", "", "", 0},

    /* ---- broken and hostile input ---- */
    {"unterminated double-quoted string", "x <- \"abc\n", "x", "", "", "", "", "", "", "", 1},
    {"unterminated single-quoted string", "x <- 'abc", "x", "", "", "", "", "", "", "", 1},
    {"unterminated backquote", "y <- 1\n`abc", "y", "", "", "", "", "", "", "", 1},
    {"lone assignment operator", "<-", "", "", "", "", "", "", "", "", 1},
    {"lone operators", "+-*/^<-<<-->->>", N, N, N, N, N, N, N, N, 1},
    {"dangling assignment", "x <- ", "", N, "", "", "", "", "", "", 1},
    {"unclosed call keeps what came before", "a <- 1\nf(a, ", "a", "f", "", "", "", "", "", "", 1},
    {"stray closing brace", "x <- 1 }\n", "x", "", "", "", "", "", "", "", 1},
    {"missing closing parenthesis", "y <- (z", "y", "z", "", "", "", "", "", "", 1},
    {"missing parenthesis before a newline", "y <- (1 + z\nw <- 2\n", N, N, "", "", "", "", "", "",
     1},
    {"error in the middle, the rest is analysed", "a <- 1\nb <- )\nc <- a\nd <- q\n", N, "q", "",
     "", "", "", "", "", 1},
    {"unfinished function", "f <- function(x", N, N, N, N, N, N, N, N, 1},
    {"unfinished if", "if (x > 1", "", "x", "", "", "", "", "", "", 1},
    {"lone else", "else x\n", "", "x", "", "", "", "", "", "", 1},
    {"stray in", "in <- 3\n", "", "", "", "", "", "", "", "", 1},
    {"unbalanced brackets", "]]]]))))}}}}\n", "", "", "", "", "", "", "", "", 1},
    {"control characters", "\x01\x02\x03\x7f", N, N, N, N, N, N, N, N, 1},
    {"binary garbage that is valid UTF-8",
     "\xc3\xa9\xe2\x82\xac\x01 ~~ %% $$ @@ \x7f ]]] [[[ {{ )) \xf0\x9f\x98\x80 <- <<- ->>", N, N, N,
     N, N, N, N, N, 1},
    {"empty cell", "", "", "", "", "", "", "", "", "", 0},
    {"whitespace only", "\n\n  \t\n", "", "", "", "", "", "", "", "", 0},
    {"comment only", "# nothing here\n", "", "", "", "", "", "", "", "", 0},
    {"broken replacement target", "f() <- 1\nnames() <- 2\n", "", "f<- names<-", "", "", "", "", "",
     "", 0},
    /* found by fuzzing: a `pkg::` callee without a function name */
    {"namespace without a name as callee", "pkg::(x)\n", "", "x", "", "", "pkg", "", "", "", 0},
    {"namespace without a package as callee", ":::(\"x\")\n", "", "", "", "", "", "", "", "", 1},
    {"namespace without a name as target", "fu::=s\n", "", "s", "", "", "fu", "", "", "", 0},
    {"windows line endings", "x <- 1\r\ny <- x\r\n", "x y", "", "", "", "", "", "", "", 0},
};

static void r_cases(void)
{
    CHECK(run_analysis_cases(NBR_LANG_R, cases, sizeof cases / sizeof cases[0]) == 0);
}

static char *repeat(const char *unit, size_t times, const char *tail)
{
    size_t n = strlen(unit), t = strlen(tail);
    char *s = malloc(n * times + t + 1);
    if (!s) abort();
    for (size_t i = 0; i < times; i++) memcpy(s + i * n, unit, n);
    memcpy(s + n * times, tail, t + 1);
    return s;
}

/* Nesting 100000 deep must neither overflow the stack nor lose the names. */
static void deep_nesting_does_not_crash(void)
{
    static const char *const units[] = {
        "-",     "!",  "x <- ", "function() ", "if (a) ", "y ^ ",   "repeat ",
        "a && ", "f(", "(",     "{",           "x[",      "names(", "~"};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        char *src = repeat(units[i], 100000, "z\n");
        nbr_analysis *a = NULL;
        CHECK_OK(nbr_analysis_new(&a, NBR_LANG_R, src, strlen(src)));
        nbr_analysis_free(a);
        free(src);
    }
}

/* Brackets just under the library's 10000-level refusal reach the parser and
 * the walk. */
static void deep_brackets_do_not_crash(void)
{
    static const char *const units[] = {"f(", "(", "{", "x[", "x[[", "function(a = "};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        char *src = repeat(units[i], 9000, "z\n");
        nbr_analysis *a = NULL;
        CHECK_OK(nbr_analysis_new(&a, NBR_LANG_R, src, strlen(src)));
        nbr_analysis_free(a);
        free(src);
    }
}

/* Past the depth limit the analysis is approximate and says so. */
static void deep_nesting_is_flagged_and_keeps_names(void)
{
    char *src = repeat("-", 5000, "deep_name\n");
    nbr_analysis *a = NULL;
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_R, src, strlen(src)));
    CHECK(nbr_analysis_has_name(a, NBR_NAMES_USES, "deep_name"));
    CHECK(nbr_analysis_diagnostic_count(a, NBR_DIAG_FLAG) == 1);
    nbr_analysis_free(a);
    free(src);
}

/* a + a + a + ... nests one level per operand but is not "deep" code. */
static void long_operator_chains_are_exact(void)
{
    char *src = repeat("a + ", 50000, "b\n");
    nbr_analysis *a = NULL;
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_R, src, strlen(src)));
    CHECK(nbr_analysis_diagnostic_count(a, NBR_DIAG_FLAG) == 0);
    CHECK(nbr_analysis_name_count(a, NBR_NAMES_USES) == 2);
    nbr_analysis_free(a);
    free(src);
}

static void many_statements(void)
{
    char *src = repeat("a <- b + 1\nb <- a\n", 20000, "");
    nbr_analysis *a = NULL;
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_R, src, strlen(src)));
    CHECK(nbr_analysis_name_count(a, NBR_NAMES_USES) == 1);
    CHECK_STR("b", nbr_analysis_name(a, NBR_NAMES_USES, 0));
    nbr_analysis_free(a);
    free(src);
}

static void check_diagnostic(const char *src, nbr_diagnostic_kind kind, uint32_t line,
                             uint32_t column, const char *message_part)
{
    nbr_analysis *a = NULL;
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_R, src, strlen(src)));
    const char *message = NULL;
    uint32_t l = 0, c = 0;
    CHECK_OK(nbr_analysis_diagnostic(&message, &l, &c, a, kind, 0));
    if (l != line || c != column || !message || !strstr(message, message_part)) {
        fprintf(stderr, "%s: got %u:%u \"%s\", expected %u:%u containing \"%s\"\n", src, l, c,
                message ? message : "(null)", line, column, message_part);
        nbr_test_failures++;
    }
    nbr_analysis_free(a);
}

static void syntax_errors_have_position_and_message(void)
{
    check_diagnostic("x <- \"abc\n", NBR_DIAG_ERROR, 1, 6, "unterminated string");
    check_diagnostic("y <- (z", NBR_DIAG_ERROR, 1, 8, "missing ')'");
    check_diagnostic("a <- 1\nx <- 1 }\ny <- 2\n", NBR_DIAG_ERROR, 2, 8, "unexpected '}'");
    check_diagnostic("x <- 1 }\n", NBR_DIAG_ERROR, 1, 8, "'}'");
    check_diagnostic("else x", NBR_DIAG_ERROR, 1, 1, "unexpected 'else'");
    check_diagnostic("if (x > 1", NBR_DIAG_ERROR, 1, 1, "incomplete");
    check_diagnostic("<-", NBR_DIAG_ERROR, 1, 1, "syntax error");
}

static void flags_say_what_and_why(void)
{
    check_diagnostic("eval(e)", NBR_DIAG_FLAG, 1, 1, "eval() runs code the analysis cannot see");
    check_diagnostic("rm(list = ls())", NBR_DIAG_FLAG, 1, 1, "rm(list = ...)");
    check_diagnostic("x <<- 1", NBR_DIAG_FLAG, 1, 3, "'<<-' at the top level");
    check_diagnostic("assign(nm, 1)", NBR_DIAG_FLAG, 1, 1, "computed");
    check_diagnostic("library(p, character.only = TRUE)", NBR_DIAG_FLAG, 1, 1, "character.only");
}

/* Many syntax errors: reported up to a bound, never a crash. */
static void error_count_is_bounded(void)
{
    char *src = repeat(") ", 10000, "");
    nbr_analysis *a = NULL;
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_R, src, strlen(src)));
    size_t errors = nbr_analysis_diagnostic_count(a, NBR_DIAG_ERROR);
    CHECK(errors >= 1 && errors <= 50);
    nbr_analysis_free(a);
    free(src);
}

static void invalid_utf8_is_rejected(void)
{
    nbr_analysis *a = NULL;
    CHECK_STATUS(NBR_EENCODING, nbr_analysis_new(&a, NBR_LANG_R, "x <- \xff\n", 7));
    CHECK(a == NULL);
}

static void json_has_every_key(void)
{
    nbr_analysis *a = NULL;
    const char *src = "f <- function() g <<- 1\nlibrary(x)\nrm(y)\neval(z)\nobj$m()\n(";
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_R, src, strlen(src)));
    char *json = NULL;
    CHECK_OK(nbr_analysis_to_json(&json, a));
    CHECK(json && strstr(json, "\"functions\": {\"f\": {\"reads\": [], \"writes\": [\"g\"]}}"));
    CHECK(json && strstr(json, "\"imports\": [\"x\"]"));
    CHECK(json && strstr(json, "\"deletes\": [\"y\"]"));
    CHECK(json && strstr(json, "\"may_mutate\": [\"obj\"]"));
    nbr_free(json);
    nbr_analysis_free(a);
}

static void add_cell(nbr_graph *g, const char *id, const char *src)
{
    nbr_analysis *a = NULL;
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_R, src, strlen(src)));
    CHECK_OK(nbr_graph_add_cell(g, id, a));
    nbr_analysis_free(a);
}

static bool has_edge(const nbr_graph *g, const char *from, const char *to, const char *name)
{
    for (size_t i = 0; i < nbr_graph_edge_count(g); i++) {
        const char *f, *t, *n;
        if (nbr_graph_edge(&f, &t, &n, g, i) == NBR_OK && !strcmp(f, from) && !strcmp(t, to) &&
            !strcmp(n, name))
            return true;
    }
    return false;
}

/* `f <- e` makes f and e one environment: a method call through f changes
 * what a later reader of e sees.  The alias is only visible through the graph. */
static void aliases_reach_the_graph(void)
{
    nbr_graph *g = NULL;
    CHECK_OK(nbr_graph_new(&g));
    add_cell(g, "c1", "e <- new.env()\n");
    add_cell(g, "c2", "f <- e\n");
    add_cell(g, "c3", "f$set(1)\n");
    add_cell(g, "c4", "print(e$x)\n");
    CHECK(has_edge(g, "c3", "c4", "e"));
    nbr_graph_free(g);
}

NBR_TEST_MAIN(TEST(r_cases), TEST(aliases_reach_the_graph), TEST(deep_nesting_does_not_crash),
              TEST(deep_brackets_do_not_crash), TEST(deep_nesting_is_flagged_and_keeps_names),
              TEST(long_operator_chains_are_exact), TEST(many_statements),
              TEST(syntax_errors_have_position_and_message), TEST(flags_say_what_and_why),
              TEST(error_count_is_bounded), TEST(invalid_utf8_is_rejected),
              TEST(json_has_every_key))
