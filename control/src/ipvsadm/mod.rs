//! ipvsadm.
