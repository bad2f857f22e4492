//! The network driver: TCP links around the sans-IO core, on async-std. Only
//! [`runtime`] names the runtime.

pub mod runtime;
