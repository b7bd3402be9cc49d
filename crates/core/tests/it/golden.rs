//! Events written by an earlier version must keep loading.
