//! Web shell.
