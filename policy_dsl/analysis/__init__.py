"""Static analysis of rule sets with z3: conflicts, gaps and dead rules (`qinqing lint --analyze`)."""
