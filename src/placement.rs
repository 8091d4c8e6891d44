//! Task placement: a pure function from live workers, connectors and the previous assignment to a new assignment.
